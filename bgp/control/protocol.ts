/**
 * The control socket protocol of trellis-bgp: a unix stream socket carrying
 * JSON lines. One request per line, one response line per request, in order.
 *
 *   -> {"id":1,"method":"peers"}
 *   <- {"id":1,"ok":true,"result":[...]}
 *   <- {"id":2,"ok":false,"error":{"code":"TRELLIS_ECTL_METHOD","message":"..."}}
 */
import { z } from "zod";

export const METHODS = ["peers", "routes"] as const;
export type Method = (typeof METHODS)[number];

export const requestSchema = z
  .object({
    id: z.union([z.number(), z.string()]).optional(),
    method: z.enum(METHODS),
  })
  .strict();
export type ControlRequest = z.infer<typeof requestSchema>;

export interface ControlErrorBody {
  code: string;
  message: string;
}

export type ControlResponse =
  | { id?: number | string; ok: true; result: unknown }
  | { id?: number | string; ok: false; error: ControlErrorBody };

/** A longest request line we accept; anything longer is not a control request. */
export const MAX_REQUEST_LINE = 64 * 1024;

/** One session as `trellisctl bgp peers` shows it. */
export interface PeerStatus {
  address: string;
  asn: number;
  localAsn: number;
  type: "ebgp" | "ibgp";
  state: string;
  /** Seconds since Established; absent when not Established. */
  uptimeSeconds?: number;
  /** The peer's BGP Identifier, once an OPEN was received. */
  routerId?: string;
  holdTime?: number;
  keepaliveTime?: number;
  /** Capabilities both sides advertised (negotiated), by name. */
  capabilities: string[];
  families: string[];
  prefixes: { received: number; accepted: number; advertised: number; stale: number };
  messages: { received: number; sent: number };
  /** UPDATE messages among them (End-of-RIB included). */
  updates: { received: number; sent: number };
  /** Backpressure: routes waiting to be encoded, and encoded bytes the socket has not taken yet. */
  sendQueue: { pendingPrefixes: number; bufferedBytes: number };
  lastError?: string;
  /** The peer's BFD session (RFC 5880), when the peer has `bfd`. */
  bfd?: { state: string; remoteState: string; diag: string; txIntervalMs: number; detectTimeMs: number };
  /** Consecutive failed attempts (RFC 4271 ConnectRetryCounter). */
  connectRetryCounter: number;
}

/** One Loc-RIB destination as `trellisctl bgp routes` shows it. */
export interface RouteStatus {
  prefix: string;
  /** Why the best path won (RFC 4271 §9.1.2.2 step that decided). */
  reason: string;
  nexthops: string[];
  paths: {
    source: string;
    best: boolean;
    multipath: boolean;
    stale: boolean;
    nextHop?: string;
    asPath: string;
    origin?: string;
    localPref?: number;
    med?: number;
    communities: string[];
    largeCommunities: string[];
  }[];
}
