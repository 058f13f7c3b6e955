// RFC 6793 (4-octet AS numbers) between a NEW speaker and an OLD (2-octet)
// peer: rebuilding the real path from AS_PATH + AS4_PATH on receipt (§4.2.3),
// and producing AS_PATH + AS4_PATH to send (§4.2.2). Plus the AS_PATH
// measures the decision process needs (RFC 4271 §9.1.2.2).

import { AS_CONFED_SEQUENCE, AS_CONFED_SET, AS_SEQUENCE, AS_SET, AS_TRANS } from "./types.js";
import type { AsPathSegment, PathAttributes } from "./types.js";

function isConfed(s: AsPathSegment): boolean {
  return s.type === AS_CONFED_SEQUENCE || s.type === AS_CONFED_SET;
}

/** RFC 4271 §9.1.2.2 a: an AS_SET counts 1, confederation segments count 0 (RFC 5065 §5.3). */
export function asPathLength(segs: readonly AsPathSegment[] | undefined): number {
  let n = 0;
  for (const s of segs ?? []) {
    if (s.type === AS_SEQUENCE) n += s.asns.length;
    else if (s.type === AS_SET) n += 1;
  }
  return n;
}

/** Whether `asn` appears anywhere in the path (AS loop detection, RFC 4271 §9.1.2). */
export function asPathContains(segs: readonly AsPathSegment[] | undefined, asn: number): boolean {
  for (const s of segs ?? []) if (s.asns.includes(asn)) return true;
  return false;
}

/**
 * RFC 6793 §4.2.3: the attributes as received from an OLD speaker, with the
 * real AS_PATH and AGGREGATOR rebuilt from AS4_PATH / AS4_AGGREGATOR, which
 * are then removed. Call it on UPDATEs from a session without 4-octet AS.
 */
export function mergeAs4(attrs: PathAttributes): PathAttributes {
  if (attrs.as4Path === undefined && attrs.as4Aggregator === undefined) return attrs;
  const out: PathAttributes = { ...attrs };
  delete out.as4Path;
  delete out.as4Aggregator;
  // If AGGREGATOR carries a real 2-octet AS (not AS_TRANS), the aggregation
  // happened at an OLD speaker: AS4_AGGREGATOR and AS4_PATH are both ignored.
  if (attrs.aggregator !== undefined && attrs.aggregator.asn !== AS_TRANS) return out;
  if (attrs.as4Aggregator !== undefined && attrs.aggregator !== undefined)
    out.aggregator = attrs.as4Aggregator;
  const as4 = attrs.as4Path;
  const as2 = attrs.asPath ?? [];
  if (as4 === undefined) return out;
  const n2 = asPathLength(as2);
  const n4 = asPathLength(as4);
  // AS4_PATH longer than AS_PATH: ignore AS4_PATH.
  if (n4 > n2) return out;
  // Keep the leading n2 - n4 ASes of AS_PATH (confederation segments whole,
  // an AS_SET as one), then append AS4_PATH.
  let keep = n2 - n4;
  const merged: AsPathSegment[] = [];
  for (const s of as2) {
    if (isConfed(s)) {
      merged.push({ type: s.type, asns: s.asns.slice() });
    } else if (keep > 0) {
      if (s.type === AS_SET) {
        merged.push({ type: s.type, asns: s.asns.slice() });
        keep -= 1;
      } else {
        const take = Math.min(keep, s.asns.length);
        merged.push({ type: s.type, asns: s.asns.slice(0, take) });
        keep -= take;
      }
    }
  }
  for (const s of as4) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last.type === AS_SEQUENCE && s.type === AS_SEQUENCE) last.asns.push(...s.asns);
    else merged.push({ type: s.type, asns: s.asns.slice() });
  }
  out.asPath = merged;
  return out;
}

/**
 * RFC 6793 §4.2.2: the attributes to send to an OLD (2-octet) peer. ASes above
 * 65535 become AS_TRANS in AS_PATH and AGGREGATOR, and the real values travel
 * in AS4_PATH (without confederation segments) and AS4_AGGREGATOR. When every
 * AS fits in 2 octets no AS4 attribute is added.
 */
export function as4ForTwoOctetPeer(attrs: PathAttributes): PathAttributes {
  const out: PathAttributes = { ...attrs };
  delete out.as4Path;
  delete out.as4Aggregator;
  const path = attrs.asPath ?? [];
  const pathNeeds = path.some((s) => s.asns.some((a) => a > 0xffff));
  if (pathNeeds) {
    out.asPath = path.map((s) => ({ type: s.type, asns: s.asns.map((a) => (a > 0xffff ? AS_TRANS : a)) }));
    out.as4Path = path.filter((s) => !isConfed(s)).map((s) => ({ type: s.type, asns: s.asns.slice() }));
  }
  if (attrs.aggregator !== undefined && attrs.aggregator.asn > 0xffff) {
    out.aggregator = { asn: AS_TRANS, address: attrs.aggregator.address };
    out.as4Aggregator = { ...attrs.aggregator };
  }
  return out;
}
