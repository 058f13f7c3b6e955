/**
 * Connection collision resolution, RFC 4271 §6.8 with the RFC 6286 §2.3 tie
 * break: of two connections between the same pair of speakers, the one
 * initiated by the speaker with the higher BGP Identifier survives (compared
 * as unsigned 32-bit integers); with equal Identifiers the one initiated by
 * the speaker with the larger AS number survives.
 */
export type Direction = "outbound" | "inbound";

export interface CollisionInput {
  localId: number;
  remoteId: number;
  localAs: number;
  remoteAs: number;
}

/** Which connection to keep: the one we initiated ("outbound") or the peer's ("inbound"). */
export function collisionWinner(c: CollisionInput): Direction {
  if (c.localId !== c.remoteId) return c.localId >>> 0 > c.remoteId >>> 0 ? "outbound" : "inbound";
  return c.localAs > c.remoteAs ? "outbound" : "inbound";
}
