/**
 * `policy.enabled: false`: another engine enforces policy. A table
 * `inet trellis` left by an earlier run with policy on would still drop every
 * new pod's veth (unknown `trl*` interfaces are dropped), so it is removed,
 * once, after the first full sync (never before: docs/architecture.md). It is ours by
 * name (docs/architecture.md: Trellis owns `inet trellis` and `inet trellis-nat`); nothing else is
 * touched — natOutgoing's `inet trellis-nat` stays, it works with policy off.
 */
import { TABLE_FAMILY, TABLE_NAME } from "../../policy/compiler/nft-table.js";
import type { NftBackend } from "../nft/backend.js";

/** Deletes table inet trellis if present; true when it was there. */
export async function removePolicyTable(nft: NftBackend): Promise<boolean> {
  if ((await nft.listTable()) === null) return false;
  await nft.run({ nftables: [{ delete: { table: { family: TABLE_FAMILY, name: TABLE_NAME } } }] });
  return true;
}
