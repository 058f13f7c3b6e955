// Interned attribute sets (BIRD's rta cache): every path that carries the same
// attributes points at one shared, frozen object, so 100k prefixes announced in
// UPDATEs that share their attributes cost 100k pointers, not 100k copies, and
// "same attributes" is a pointer comparison (which is what groups Adj-RIB-Out
// changes into UPDATEs). Reference counted; freed when the last path goes.
import type { PathAttributes } from "../wire/types.js";
import { asPathLength, neighborAs } from "./as-path.js";
import { ipv4ToNumber } from "./address-order.js";

export const DEFAULT_LOCAL_PREF = 100;

export interface AttrSet {
  readonly key: string;
  readonly attrs: PathAttributes;
  refs: number;
  // Derived once per set for the decision process (RFC 4271 §9.1.2.2).
  readonly asPathLen: number;
  /** neighbour AS for MED comparison; -1 = our own AS (empty AS_PATH) */
  readonly neighborAs: number;
  readonly localPref: number;
  /** a missing MED is 0, the lowest (RFC 4271 §9.1.2.2 c) */
  readonly med: number;
  readonly origin: number;
  /** ORIGINATOR_ID as uint32, -1 when absent (RFC 4456 §9) */
  readonly originatorId: number;
  readonly clusterListLen: number;
}

function segKey(segs: PathAttributes["asPath"]): string {
  if (segs === undefined) return "";
  let s = "";
  for (const seg of segs) s += `${seg.type}:${seg.asns.join(",")};`;
  return s;
}

/** A string that is equal for two attribute sets exactly when they encode to the same attributes. */
export function attributeSetKey(a: PathAttributes): string {
  let k = `${a.origin ?? ""}|${segKey(a.asPath)}|${a.nextHop ?? ""}|${a.nextHopLinkLocal ?? ""}|${a.med ?? ""}|${a.localPref ?? ""}|${a.atomicAggregate === true ? 1 : ""}`;
  if (a.aggregator !== undefined) k += `|ag${a.aggregator.asn}@${a.aggregator.address}`;
  if (a.communities !== undefined) k += `|c${a.communities.join(",")}`;
  if (a.originatorId !== undefined) k += `|o${a.originatorId}`;
  if (a.clusterList !== undefined) k += `|cl${a.clusterList.join(",")}`;
  if (a.extendedCommunities !== undefined) k += `|x${a.extendedCommunities.join(",")}`;
  if (a.as4Path !== undefined) k += `|p4${segKey(a.as4Path)}`;
  if (a.as4Aggregator !== undefined) k += `|a4${a.as4Aggregator.asn}@${a.as4Aggregator.address}`;
  if (a.largeCommunities !== undefined)
    k += `|l${a.largeCommunities.map((l) => `${l.global}:${l.local1}:${l.local2}`).join(",")}`;
  if (a.unknown !== undefined)
    k += `|u${a.unknown.map((u) => `${u.flags}/${u.type}/${u.value.toString("hex")}`).join(",")}`;
  return k;
}

export class AttrTable {
  private readonly sets = new Map<string, AttrSet>();

  get size(): number {
    return this.sets.size;
  }

  /**
   * The shared set for these attributes, with one more reference. The caller
   * must not mutate `attrs` afterwards (it may become the shared copy).
   */
  intern(attrs: PathAttributes): AttrSet {
    const key = attributeSetKey(attrs);
    let set = this.sets.get(key);
    if (set === undefined) {
      set = {
        key,
        attrs,
        refs: 0,
        asPathLen: asPathLength(attrs.asPath),
        neighborAs: neighborAs(attrs.asPath) ?? -1,
        localPref: attrs.localPref ?? DEFAULT_LOCAL_PREF,
        med: attrs.med ?? 0,
        origin: attrs.origin ?? 2,
        originatorId: attrs.originatorId === undefined ? -1 : ipv4ToNumber(attrs.originatorId),
        clusterListLen: attrs.clusterList?.length ?? 0,
      };
      this.sets.set(key, set);
    }
    set.refs++;
    return set;
  }

  /**
   * Take one more reference on a set obtained earlier (possibly from a cache
   * that outlived its last reference): returns the live shared set.
   */
  ref(set: AttrSet): AttrSet {
    if (set.refs > 0) {
      set.refs++;
      return set;
    }
    const live = this.sets.get(set.key);
    if (live !== undefined && live !== set) {
      live.refs++;
      return live;
    }
    this.sets.set(set.key, set);
    set.refs = 1;
    return set;
  }

  unref(set: AttrSet): void {
    if (--set.refs <= 0) {
      set.refs = 0;
      if (this.sets.get(set.key) === set) this.sets.delete(set.key);
    }
  }
}
