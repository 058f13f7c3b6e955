/**
 * The BFD Control packet (RFC 5880 §4.1) as a pure codec: no sockets, no
 * clock. decodeControl() applies the packet-level reception checks of §6.8.6
 * (the ones that need no session) and returns why a packet is discarded as a
 * stable code, never throws on input.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
 *  |                       My Discriminator                        |
 *  |                      Your Discriminator                       |
 *  |                    Desired Min TX Interval                    |
 *  |                   Required Min RX Interval                    |
 *  |                 Required Min Echo RX Interval                 |
 */

/** §4.1 Sta. */
export type BfdState = "AdminDown" | "Down" | "Init" | "Up";
export const STATE_CODE: Record<BfdState, number> = { AdminDown: 0, Down: 1, Init: 2, Up: 3 };
const STATE_OF: readonly BfdState[] = ["AdminDown", "Down", "Init", "Up"];

/** §4.1 Diagnostic codes. */
export const DIAG = {
  none: 0,
  controlDetectionTimeExpired: 1,
  echoFailed: 2,
  neighborSignaledDown: 3,
  forwardingPlaneReset: 4,
  pathDown: 5,
  concatenatedPathDown: 6,
  adminDown: 7,
  reverseConcatenatedPathDown: 8,
} as const;
export const DIAG_TEXT: readonly string[] = [
  "No Diagnostic",
  "Control Detection Time Expired",
  "Echo Function Failed",
  "Neighbor Signaled Session Down",
  "Forwarding Plane Reset",
  "Path Down",
  "Concatenated Path Down",
  "Administratively Down",
  "Reverse Concatenated Path Down",
];

export const BFD_VERSION = 1;
/** §4.1: the mandatory section; 26 with the smallest authentication section. */
export const CONTROL_LENGTH = 24;
/** RFC 5881 §4: single-hop control packets go to UDP port 3784, from a source port 49152..65535. */
export const BFD_PORT = 3784;
export const SOURCE_PORT_MIN = 49152;
export const SOURCE_PORT_MAX = 65535;

export interface ControlPacket {
  diag: number;
  state: BfdState;
  poll: boolean;
  final: boolean;
  /** C: Control Plane Independent. */
  cpi: boolean;
  /** D: Demand mode (not used by us; carried for the peer's state). */
  demand: boolean;
  detectMult: number;
  myDisc: number;
  yourDisc: number;
  /** Microseconds. */
  desiredMinTx: number;
  requiredMinRx: number;
  requiredMinEchoRx: number;
}

/** Why a packet was discarded (§6.8.6), for counters and logs. */
export type DiscardReason =
  | "short" // shorter than the mandatory section
  | "version" // Vers != 1
  | "length" // Length < 24, or more than the datagram carries
  | "detect-mult-zero"
  | "multipoint" // M bit set
  | "my-disc-zero"
  | "auth-unsupported"; // A bit set: we use no authentication (§6.8.6: discard)

export type DecodeResult = { ok: true; packet: ControlPacket } | { ok: false; reason: DiscardReason };

export function decodeControl(b: Uint8Array): DecodeResult {
  if (b.length < CONTROL_LENGTH) return { ok: false, reason: "short" };
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const b0 = v.getUint8(0);
  const b1 = v.getUint8(1);
  if (b0 >> 5 !== BFD_VERSION) return { ok: false, reason: "version" };
  const length = v.getUint8(3);
  const auth = (b1 & 0x04) !== 0;
  // §6.8.6: Length below the minimum (24, or 26 with the A bit), or beyond the payload.
  if (length < (auth ? CONTROL_LENGTH + 2 : CONTROL_LENGTH) || length > b.length)
    return { ok: false, reason: "length" };
  const detectMult = v.getUint8(2);
  if (detectMult === 0) return { ok: false, reason: "detect-mult-zero" };
  if ((b1 & 0x01) !== 0) return { ok: false, reason: "multipoint" };
  const myDisc = v.getUint32(4);
  if (myDisc === 0) return { ok: false, reason: "my-disc-zero" };
  if (auth) return { ok: false, reason: "auth-unsupported" };
  return {
    ok: true,
    packet: {
      diag: b0 & 0x1f,
      state: STATE_OF[b1 >> 6]!,
      poll: (b1 & 0x20) !== 0,
      final: (b1 & 0x10) !== 0,
      cpi: (b1 & 0x08) !== 0,
      demand: (b1 & 0x02) !== 0,
      detectMult,
      myDisc,
      yourDisc: v.getUint32(8),
      desiredMinTx: v.getUint32(12),
      requiredMinRx: v.getUint32(16),
      requiredMinEchoRx: v.getUint32(20),
    },
  };
}

/** §4.1, without an authentication section. Throws on a field out of range (our bug, not input). */
export function encodeControl(p: ControlPacket): Buffer {
  const out = Buffer.alloc(CONTROL_LENGTH);
  const u32 = (x: number, what: string): number => {
    if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new RangeError(`${what} out of range: ${x}`);
    return x;
  };
  if (!Number.isInteger(p.diag) || p.diag < 0 || p.diag > 31)
    throw new RangeError(`diag out of range: ${p.diag}`);
  if (!Number.isInteger(p.detectMult) || p.detectMult < 1 || p.detectMult > 255)
    throw new RangeError(`detectMult out of range: ${p.detectMult}`);
  out[0] = (BFD_VERSION << 5) | p.diag;
  out[1] =
    (STATE_CODE[p.state] << 6) |
    (p.poll ? 0x20 : 0) |
    (p.final ? 0x10 : 0) |
    (p.cpi ? 0x08 : 0) |
    (p.demand ? 0x02 : 0);
  out[2] = p.detectMult;
  out[3] = CONTROL_LENGTH;
  out.writeUInt32BE(u32(p.myDisc, "myDisc"), 4);
  out.writeUInt32BE(u32(p.yourDisc, "yourDisc"), 8);
  out.writeUInt32BE(u32(p.desiredMinTx, "desiredMinTx"), 12);
  out.writeUInt32BE(u32(p.requiredMinRx, "requiredMinRx"), 16);
  out.writeUInt32BE(u32(p.requiredMinEchoRx, "requiredMinEchoRx"), 20);
  return out;
}
