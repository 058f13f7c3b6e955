/**
 * Block claims that are exclusive across block sizes, decided purely.
 *
 * The API server offers one atomic primitive per object: create-if-absent
 * and compare-and-swap on resourceVersion. A block's name is its CIDR, so
 * two claims of the same CIDR collide on create; but 10.244.1.0/24 and
 * 10.244.1.0/26 have different names and would both be created. So a claim
 * runs in three steps (IpamService.claim is the shell):
 *
 *   1. create the IPAMBlock with `spec.state: "pending"`; nobody allocates
 *      into a pending block, and a pending block is never updated, so its
 *      metadata.resourceVersion stays its creation revision;
 *   2. LIST every IPAMBlock afresh from the API server (not the informer
 *      cache, which may lag);
 *   3. if any OTHER block overlapping ours is confirmed (state absent or
 *      "confirmed"), or pending with a smaller creation resourceVersion, we
 *      lost: delete ours with our resourceVersion as precondition and plan
 *      again. Otherwise confirm ours with a CAS replace from that same
 *      resourceVersion (which fails if it was deleted meanwhile).
 *
 * Why this is safe (no two overlapping blocks are ever both confirmed): take
 * two overlapping claims X and Y, X created first, so rv(X) < rv(Y) (the
 * resourceVersion is etcd's global revision in kube-apiserver and a global
 * counter in the lab server). Y's LIST comes after Y's create, hence after
 * X's create, and is linearizable. In it, X is either
 *   - present and confirmed: Y loses;
 *   - present and pending, with rv(X) < rv(Y): Y loses;
 *   - absent: X was deleted before Y's LIST. If X was still pending, its
 *     confirm (a CAS from its creation rv) can no longer succeed, so X is
 *     never confirmed; if X had been confirmed, it was released, and a
 *     released block is no longer live.
 * So whenever the newer claim Y confirms, the older X is not live, and the
 * oldest live overlapping claim always wins: X, seeing Y pending with a
 * larger rv, ignores it and confirms. There is no livelock: among pending
 * overlapping claims the oldest never yields to a newer one. A claimer that
 * crashes while pending blocks newer claims only until its block is swept
 * (by its own agent at start, by anyone after a grace period); the sweep
 * deletes with the rv precondition, so a block confirmed meanwhile stays.
 * When a resourceVersion is not a decimal number (a server we do not know),
 * the newcomer treats the comparison as lost: safe, at worst slower.
 */
import { type IPAMBlock, affinityNode, blockPending } from "../../crds/ipam.js";
import { overlaps, parsePrefix } from "../../net/address.js";

/** A resourceVersion as a number, if it is a plain decimal counter. */
export function rvValue(b: IPAMBlock): bigint | undefined {
  const rv = b.metadata.resourceVersion;
  return rv !== undefined && /^[0-9]+$/.test(rv) ? BigInt(rv) : undefined;
}

export type ClaimVerdict =
  | { won: true }
  | {
      won: false;
      /** The block our claim yields to. */
      against: IPAMBlock;
      /** "block 10.244.1.0/24 of pool wide24 overlaps block 10.244.1.0/26 of pool default-ipv4 held by node-1" */
      reason: string;
    };

function holder(b: IPAMBlock): string {
  const n = affinityNode(b.spec.affinity);
  return n !== undefined ? `held by ${n}` : "held by no node";
}

/**
 * Step 3: does our pending block `mine` (as created: its resourceVersion is
 * its creation revision) keep its claim against a fresh LIST of all blocks?
 */
export function claimVerdict(mine: IPAMBlock, all: readonly IPAMBlock[]): ClaimVerdict {
  const cidr = parsePrefix(mine.spec.cidr);
  if (typeof cidr === "string") return { won: true };
  const myRv = rvValue(mine);
  let against: IPAMBlock | undefined;
  for (const b of all) {
    if (b.metadata.name === mine.metadata.name) continue;
    const other = parsePrefix(b.spec.cidr);
    if (typeof other === "string" || !overlaps(cidr, other)) continue;
    if (!blockPending(b)) {
      against = b;
      break;
    }
    const theirRv = rvValue(b);
    // Unknown order: the newcomer yields (safe; the other side may yield too,
    // and both plan again, which only costs time on a server we do not know).
    if (myRv === undefined || theirRv === undefined || theirRv < myRv) {
      against ??= b;
    }
  }
  if (against === undefined) return { won: true };
  const state = blockPending(against) ? " (pending, claimed earlier)" : "";
  return {
    won: false,
    against,
    reason: `block ${mine.spec.cidr} of pool ${mine.spec.pool} overlaps block ${against.spec.cidr} of pool ${against.spec.pool} ${holder(against)}${state}`,
  };
}

/**
 * Pending blocks to delete: this node's own at agent start (a claim of ours
 * that a crash interrupted; no claim of this process is in flight yet), and
 * anyone's once older than the grace period (its claimer died or hangs; if
 * it is merely slow, its confirm fails on the changed resourceVersion and it
 * plans again).
 */
export function stalePendingBlocks(
  blocks: readonly IPAMBlock[],
  node: string,
  nowMs: number,
  graceMs: number,
  atStart: boolean,
): IPAMBlock[] {
  return blocks
    .filter((b) => {
      if (!blockPending(b)) return false;
      if (atStart && affinityNode(b.spec.affinity) === node) return true;
      const born = Date.parse(b.metadata.creationTimestamp ?? "");
      return !Number.isNaN(born) && nowMs - born >= graceMs;
    })
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}
