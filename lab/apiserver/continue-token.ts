/**
 * `continue` tokens for paginated lists. Upstream encodes
 * {"v":"meta.k8s.io/v1","rv":N,"start":"<key>"} in base64 and reads the rest
 * of the list from etcd at revision N, so pages stay consistent across
 * concurrent writes. The lab keeps the first page's list as an in-memory
 * snapshot instead (object-store.ts) and the token names it; the snapshot
 * outliving its TTL is the analogue of etcd compaction (410 Expired).
 */
import { badRequest } from "./status.js";

export interface ContinueToken {
  rv: number;
  /** Index of the next item in the snapshot. */
  start: number;
  snapshot: string;
}

export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(
    JSON.stringify({ v: "meta.k8s.io/v1", rv: t.rv, start: t.start, snap: t.snapshot }),
  ).toString("base64url");
}

export function decodeContinue(s: string): ContinueToken {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
  } catch {
    throw badRequest(
      "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
    );
  }
  const o = v as Record<string, unknown> | null;
  if (
    o === null ||
    typeof o !== "object" ||
    o.v !== "meta.k8s.io/v1" ||
    typeof o.rv !== "number" ||
    typeof o.start !== "number" ||
    !Number.isInteger(o.start) ||
    o.start < 0 ||
    typeof o.snap !== "string"
  )
    throw badRequest("continue key is not valid: server does not recognize this encoded version");
  return { rv: o.rv, start: o.start, snapshot: o.snap };
}
