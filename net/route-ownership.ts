/**
 * Who owns which kernel route (docs/architecture.md, pinned contracts). Every route
 * Trellis installs carries its own rtnetlink protocol number, so each part
 * lists, replaces and sweeps only its own, and two parts on one node never
 * delete each other's routes:
 * - PROTO_TRELLIS_LOCAL (201, "trellis"): routes the agent derives from local
 *   state: pod /32 and /128 via the host veth, blackholes for affine blocks.
 * - PROTO_TRELLIS_BGP (202, "trellis-bgp"): routes learned from BGP; also
 *   trellis-bgp's default when it runs alone.
 * Both live in the main table unless configured otherwise. A sweep names its
 * protocol (and table) in every list and delete, never "all routes".
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const PROTO_TRELLIS_LOCAL = 201;
export const PROTO_TRELLIS_BGP = 202;
export const PROTO_NAME_LOCAL = "trellis";
export const PROTO_NAME_BGP = "trellis-bgp";
/** RT_TABLE_MAIN */
export const TABLE_MAIN = 254;

/** Where iproute2 (6.x) reads extra protocol names; absent on older systems. */
export const RT_PROTOS_DIR = "/etc/iproute2/rt_protos.d";
export const RT_PROTOS_FILE = "trellis.conf";

/** The file's text: one "number name" line per protocol (rt_protos(5)). */
export function rtProtosText(): string {
  return (
    "# Written by Trellis: the rtnetlink protocols of the routes it installs.\n" +
    `${PROTO_TRELLIS_LOCAL}\t${PROTO_NAME_LOCAL}\n` +
    `${PROTO_TRELLIS_BGP}\t${PROTO_NAME_BGP}\n`
  );
}

/**
 * Whether a route's protocol as `ip` prints it is `proto`: the number, or its
 * name once rt_protos.d names it (`ip route` and `ip -j route` print the name
 * then; only `-N` keeps numbers, and it turns `type` into numbers too).
 */
export function isProto(printed: string | undefined, proto: number): boolean {
  if (printed === undefined) return false;
  return printed === String(proto) || printed === PROTO_NAMES.get(proto);
}

/** Whether a printed protocol is one of Trellis's (201 or 202, by number or name). */
export function isTrellisProto(printed: string | undefined): boolean {
  return isProto(printed, PROTO_TRELLIS_LOCAL) || isProto(printed, PROTO_TRELLIS_BGP);
}

const PROTO_NAMES = new Map([
  [PROTO_TRELLIS_LOCAL, PROTO_NAME_LOCAL],
  [PROTO_TRELLIS_BGP, PROTO_NAME_BGP],
]);

export type RtProtosOutcome = "written" | "unchanged" | "no-directory" | `failed: ${string}`;

/**
 * Writes `<dir>/trellis.conf` where `dir` exists (never creates it: a system
 * without rt_protos.d keeps numbers, which is fine). Idempotent: an equal
 * file is left alone; a different one is replaced atomically (rename). Never
 * throws: a read-only /etc (a container) only costs the names, so a failure
 * is an outcome for the caller to log.
 */
export function writeRtProtos(dir: string = RT_PROTOS_DIR): RtProtosOutcome {
  if (!existsSync(dir)) return "no-directory";
  const path = join(dir, RT_PROTOS_FILE);
  const text = rtProtosText();
  try {
    if (readFileSync(path, "utf8") === text) return "unchanged";
  } catch {
    // absent: write it below
  }
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    return `failed: ${e instanceof Error ? e.message : String(e)}`;
  }
  return "written";
}
