/**
 * Reserved addresses, pure: how an ADD gets an address without waiting for
 * an API write, and still no address is handed out twice or leaks.
 *
 * The agent keeps a few free ordinals of each of its affine blocks
 * *reserved* in the API: allocations whose handle is
 * `reserved:<node>:<block>:<ordinal>` (a CNI container ID is alphanumeric,
 * `_`, `.` and `-` only, CNI SPEC.md "Parameters", so no pod handle
 * `<containerID>.<ifname>` can take this form). Every other writer sees a
 * reserved ordinal as used: another node's borrowing plans around it, a
 * compare-and-swap of someone else's cannot take it.
 *
 * An ADD *takes* a free reserved ordinal: the take (block, ordinal, the
 * pod's allocation) is appended to a local journal (ipam-journal.ts: one
 * write(2), which outlives the agent; the node need not outlive it, since
 * a node crash ends the pods), and only then granted. The block's CAS that turns the
 * reservation into the pod's allocation runs afterwards, coalesced with
 * the next write of the block (ipam-service.ts).
 *
 * Why nothing is duplicated or leaked, whenever the agent dies:
 *   A. A reserved ordinal is granted only by this agent, only after its
 *      take is in the journal.
 *   B. Nobody else removes or rewrites `reserved:<me>:…` (other agents plan
 *      around it; GC, the leak check and `nodeAllocations` skip it; only
 *      `trellisctl ipam release` of a node that no longer exists removes
 *      one), and every CAS this agent makes of a block carries all the
 *      block's journaled takes (`applyTakes`).
 *   C. An ordinal named by a journal entry is never reserved again until
 *      the journal no longer names it (`reservationsToAdd` skips every
 *      ordinal with a take), and an entry leaves the journal only after a
 *      CAS carrying it landed, or once the block shows it landed.
 * So when the agent starts, a journaled take is still owed exactly when its
 * block holds this node's reservation at its ordinal (`takeState`): by A
 * and B the reservation is still there if the take never landed, and by C
 * a reservation there cannot be a later one. A take the journal does not
 * hold was never granted (A): its reservation is simply free again. The
 * journal's directory may be a tmpfs: it must survive the agent, not the
 * node, since a reboot ends every pod a lost take was granted to.
 */
import type { Allocation } from "../../crds/ipam.js";
import { type BlockView, type PoolView, lowestFree, overlappedBlocks } from "./block-allocator.js";

const PREFIX = "reserved:";

/**
 * Free reservations each affine block keeps. A burst larger than this
 * takes the ordinary path for the rest (one write per block per batch);
 * other nodes may borrow these addresses only once they are released
 * (a pool that is nearly exhausted loses at most this many per block).
 */
export const RESERVE_PER_BLOCK = 16;

/** The handle of node's reservation of one ordinal of one block. */
export function reservationHandle(node: string, block: string, ordinal: number): string {
  return `${PREFIX}${node}:${block}:${ordinal}`;
}

/** Is this handle a reservation (any node's)? */
export function isReservation(handle: string): boolean {
  return handle.startsWith(PREFIX);
}

/** Is this handle a reservation of this node? */
export function isReservationOf(handle: string, node: string): boolean {
  return handle.startsWith(`${PREFIX}${node}:`);
}

/** A granted reserved ordinal: the pod's allocation, owed to the block. */
export interface Take {
  block: string;
  ordinal: number;
  allocation: Allocation;
}

/**
 * Where a take stands against its block's allocations: "owed" while the
 * block still holds this node's reservation at the ordinal (the CAS that
 * carries it has not landed), "landed" when the block holds the take's own
 * handle there, "gone" otherwise (it landed and was released since, or the
 * block was deleted: nothing is owed).
 */
export function takeState(
  allocations: readonly Allocation[] | undefined,
  take: Take,
  node: string,
): "owed" | "landed" | "gone" {
  const at = allocations?.find((a) => a.ordinal === take.ordinal);
  if (at === undefined) return "gone";
  if (at.handle === take.allocation.handle) return "landed";
  return isReservationOf(at.handle, node) ? "owed" : "gone";
}

/**
 * The allocations with every owed take in place of its reservation: what
 * this agent writes, and what CNI DEL, GC, CHECK and the leak check read.
 * `carried` are the takes this version holds that the block does not yet.
 */
export function applyTakes(
  allocations: readonly Allocation[],
  takes: ReadonlyMap<number, Take> | undefined,
  node: string,
): { allocations: Allocation[]; carried: Take[] } {
  if (takes === undefined || takes.size === 0) return { allocations: [...allocations], carried: [] };
  const carried: Take[] = [];
  const out = allocations.map((a) => {
    const t = takes.get(a.ordinal);
    if (t === undefined || !isReservationOf(a.handle, node)) return a;
    carried.push(t);
    return t.allocation;
  });
  return { allocations: out, carried };
}

/** This node's reservations in a block that no take holds (free to grant). */
export function freeReservations(
  allocations: readonly Allocation[],
  takes: ReadonlyMap<number, Take> | undefined,
  node: string,
): number[] {
  return allocations
    .filter((a) => isReservationOf(a.handle, node) && takes?.has(a.ordinal) !== true)
    .map((a) => a.ordinal);
}

/**
 * The ordinals to reserve so that the block has `target` free reservations:
 * its lowest free ordinals as the allocator would hand them out
 * (block-allocator.ts lowestFree), never one a journaled take names (rule C).
 * `block.used` holds every allocation, reservations included.
 */
export function reservationsToAdd(
  block: BlockView,
  pool: PoolView | undefined,
  blocks: readonly BlockView[],
  freeNow: number,
  target: number,
  takes: ReadonlyMap<number, Take> | undefined,
): number[] {
  const want = target - freeNow;
  if (want <= 0) return [];
  const used = new Map(block.used);
  for (const ord of takes?.keys() ?? []) used.set(ord, "take");
  const v: BlockView = { ...block, used };
  const overlapped = overlappedBlocks(blocks);
  const out: number[] = [];
  while (out.length < want) {
    const ord = lowestFree(v, pool, blocks, overlapped);
    if (ord === undefined) break;
    out.push(ord);
    used.set(ord, "new");
  }
  return out;
}

/**
 * The allocator's view of a block for the fast path: only this node's free
 * reservations are free, every other ordinal counts as used, so the
 * planner's choice (pool order, lowest block, lowest ordinal) lands on a
 * reservation or on nothing of this block.
 */
export function reservedOnlyView(block: BlockView, free: readonly number[], size: number): BlockView {
  const freeSet = new Set(free);
  const used = new Map<number, string>();
  for (let i = 0; i < size; i++) if (!freeSet.has(i)) used.set(i, block.used.get(i) ?? "unreserved");
  return { ...block, used };
}
