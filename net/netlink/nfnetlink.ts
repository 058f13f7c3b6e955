/**
 * What every nfnetlink subsystem's messages share
 * (include/uapi/linux/netfilter/nfnetlink.h), written once for ctnetlink.ts
 * and nftables.ts: the message type that carries the subsystem in its high
 * byte, and `struct nfgenmsg`, the header before the attributes.
 */

export const NFNETLINK_V0 = 0;

/** A message's nlmsg_type: the subsystem (NFNL_SUBSYS_*) in the high byte, its own message in the low one. */
export function nfnlType(subsys: number, msg: number): number {
  return (subsys << 8) | msg;
}

/**
 * `struct nfgenmsg`: the family (NFPROTO_*), the version, and res_id in
 * network order (the subsystem a batch's begin and end are for; 0 otherwise).
 */
export function nfgenmsg(family: number, resId = 0): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt8(family, 0);
  b.writeUInt8(NFNETLINK_V0, 1);
  b.writeUInt16BE(resId, 2);
  return b;
}
