/**
 * The block allocator: a pure function from (pools, blocks, node, request)
 * to a plan per address family. It never talks to the API; the store shell
 * (ipam-store.ts) executes the plan with compare-and-swap writes and calls
 * back in when a write loses a race.
 *
 * Order of preference for one family (Calico's, made deterministic):
 *   1. a specific address asked for (`trellis.dev/ipAddrs` or the `ips`
 *      capability): its block (another node's too: the pod asked for it), or
 *      claim the block that holds it;
 *   2. for each eligible pool in order: the lowest free ordinal of this
 *      node's affine blocks (lowest CIDR first);
 *   3. claim the lowest block of the pool that overlaps no known block;
 *   4. unless strict affinity: borrow the lowest free ordinal of any other
 *      block of the pool.
 *
 * Only valid pools are used (agent/ipam/pool-validity.ts), and only blocks
 * that are confirmed and lie inside a valid pool of their name: a block of a
 * deleted or invalid pool keeps its running pods' addresses but hands out no
 * new ones. The one exception is idempotence: a handle that already holds an
 * address gets that address back, wherever it is.
 */
import {
  type IPAMBlock,
  type IPPool,
  DEFAULT_BLOCK_SIZE,
  affinityNode,
  poolSelector,
  blockPending,
} from "../../crds/ipam.js";
import {
  type Address,
  type Family,
  type Prefix,
  contains,
  familyBits,
  formatAddress,
  formatPrefix,
  parseAddress,
  prefixOf,
  overlaps,
  parsePrefix,
  prefixSize,
} from "../../net/address.js";
import { type LabelSelector, labelsMatch } from "../../net/label-selector.js";

export const ANNOTATION_IP_ADDRS = "trellis.dev/ipAddrs";
export const ANNOTATION_IPV4_POOLS = "trellis.dev/ipv4pools";
export const ANNOTATION_IPV6_POOLS = "trellis.dev/ipv6pools";

/** A pool as the allocator sees it: parsed once. */
export interface PoolView {
  name: string;
  cidr: Prefix;
  blockSize: number;
  disabled: boolean;
  nodeSelector: LabelSelector;
  namespaceSelector: LabelSelector;
  strictAffinity: boolean;
  /** Why the pool may not be used (pool-validity.ts); absent when it is valid. */
  invalid?: string;
}

/** A block as the allocator sees it: parsed CIDR and the set of used ordinals. */
export interface BlockView {
  name: string;
  cidr: Prefix;
  pool: string;
  /** Node that owns the block (from "host:<node>"), if any. */
  node: string | undefined;
  /** ordinal -> handle */
  used: Map<number, string>;
  /** Its claim is still being checked (never allocated into). */
  pending: boolean;
}

export interface AllocationRequest {
  handle: string;
  /** Addresses asked for explicitly (annotation or `ips` capability), any family. */
  requestedIps: readonly string[];
  /** Pool names per family from the pod's or else its namespace's annotations. */
  poolNames: { 4: readonly string[] | undefined; 6: readonly string[] | undefined };
  namespaceLabels: Readonly<Record<string, string>>;
}

export interface NodeView {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** Cluster-wide strict affinity (config); a pool may also ask for it. */
  strictAffinity: boolean;
}

/**
 * Why a request failed, for the CNI error code: "invalid" when the request
 * names something unusable (a pool that does not exist or is invalid, an
 * address outside every valid pool), "busy" when it may succeed on a retry
 * (the address's block is being claimed right now), "exhausted" otherwise.
 */
export type PlanErrorCause = "invalid" | "busy" | "exhausted";

export type FamilyPlan =
  | { kind: "assign"; family: Family; block: string; ordinal: number; address: string; prefix: number }
  | { kind: "claim"; family: Family; pool: string; cidr: string; affine: boolean }
  | { kind: "none"; family: Family }
  | { kind: "error"; family: Family; reason: string; cause: PlanErrorCause };

function fail(family: Family, reason: string, cause: PlanErrorCause): FamilyPlan {
  return { kind: "error", family, reason, cause };
}

export function poolView(p: IPPool): PoolView | string {
  const cidr = parsePrefix(p.spec.cidr);
  if (typeof cidr === "string") return `pool ${p.metadata.name}: ${cidr}`;
  const ns = poolSelector(p.spec.namespaceSelector ?? "");
  const nodeSel = poolSelector(p.spec.nodeSelector ?? "");
  if (typeof ns === "string") return `pool ${p.metadata.name}: namespaceSelector: ${ns}`;
  if (typeof nodeSel === "string") return `pool ${p.metadata.name}: nodeSelector: ${nodeSel}`;
  return {
    name: p.metadata.name,
    cidr,
    blockSize: p.spec.blockSize ?? DEFAULT_BLOCK_SIZE[cidr.family],
    disabled: p.spec.disabled === true,
    nodeSelector: nodeSel,
    namespaceSelector: ns,
    strictAffinity: p.spec.strictAffinity === true,
  };
}

export function blockView(b: IPAMBlock): BlockView | undefined {
  const cidr = parsePrefix(b.spec.cidr);
  if (typeof cidr === "string") return undefined;
  const used = new Map<number, string>();
  for (const a of b.spec.allocations) used.set(a.ordinal, a.handle);
  return {
    name: b.metadata.name,
    cidr,
    pool: b.spec.pool,
    node: affinityNode(b.spec.affinity),
    used,
    pending: blockPending(b),
  };
}

/** "block 10.244.1.0/26 of pool p held by node-1" (or "… not held by any node"). */
export function describeBlock(b: Pick<BlockView, "cidr" | "pool" | "node">): string {
  return `block ${formatPrefix(b.cidr)} of pool ${b.pool} ${b.node !== undefined ? `held by ${b.node}` : "held by no node"}`;
}

/**
 * Why a block may not be allocated from, or undefined when it may: it is
 * confirmed, its pool exists and is valid, and it lies inside the pool (a
 * block never extends outside its pool, even after the pool was re-created
 * with another CIDR under the same name).
 */
export function blockUnusable(b: BlockView, pools: readonly PoolView[]): string | undefined {
  const cidr = formatPrefix(b.cidr);
  if (b.pending) return `block ${cidr} is still being claimed`;
  const p = pools.find((x) => x.name === b.pool);
  if (p === undefined) return `block ${cidr} belongs to pool ${b.pool}, which does not exist (deleted)`;
  if (p.invalid !== undefined) return `block ${cidr} belongs to invalid pool ${p.name} (${p.invalid})`;
  if (!contains(p.cidr, b.cidr))
    return `block ${cidr} lies outside its pool ${p.name} (${formatPrefix(p.cidr)})`;
  return undefined;
}

/** Splits a comma/space list or a JSON array of names or addresses. */
export function parseList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t.startsWith("[")) {
    try {
      const v: unknown = JSON.parse(t);
      if (Array.isArray(v)) return v.map((x) => String(x).trim()).filter((x) => x !== "");
    } catch {
      // fall through to the plain list form
    }
  }
  return t
    .replace(/[[\]"]/g, "")
    .split(/[\s,]+/)
    .filter((x) => x !== "");
}

/** Pool names per family: a pod's annotation wins over its namespace's. */
export function poolNamesFromAnnotations(
  pod: Readonly<Record<string, string>>,
  namespace: Readonly<Record<string, string>>,
): AllocationRequest["poolNames"] {
  return {
    4: parseList(pod[ANNOTATION_IPV4_POOLS] ?? namespace[ANNOTATION_IPV4_POOLS]),
    6: parseList(pod[ANNOTATION_IPV6_POOLS] ?? namespace[ANNOTATION_IPV6_POOLS]),
  };
}

/** Pools of a family a request may use, in preference order. */
export function eligiblePools(
  pools: readonly PoolView[],
  node: NodeView,
  req: AllocationRequest,
  family: Family,
): PoolView[] | string {
  const named = req.poolNames[family];
  if (named !== undefined) {
    const out: PoolView[] = [];
    for (const n of named) {
      const p = pools.find((x) => x.name === n);
      if (p === undefined) return `IPv${family} pool "${n}" (from annotation) does not exist`;
      if (p.cidr.family !== family) return `pool "${n}" is not an IPv${family} pool`;
      if (p.invalid !== undefined)
        return `IPv${family} pool "${n}" (from annotation) is invalid: ${p.invalid}`;
      if (p.disabled) continue;
      out.push(p);
    }
    return out;
  }
  return pools
    .filter(
      (p) =>
        p.cidr.family === family &&
        !p.disabled &&
        p.invalid === undefined &&
        labelsMatch(p.nodeSelector, node.labels) &&
        labelsMatch(p.namespaceSelector, req.namespaceLabels),
    )
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The lowest free ordinal of a block. The pool's own network address is
 * never handed out unasked: in IPv6 it is the Subnet-Router anycast address
 * (RFC 4291 §2.6.1), in IPv4 the address tools read as "the network".
 */
export function lowestFree(
  b: BlockView,
  pool: PoolView | undefined,
  blocks: readonly BlockView[],
  overlapped: ReadonlySet<string>,
): number | undefined {
  const size = Number(prefixSize(b.cidr));
  const reserved =
    pool !== undefined && pool.cidr.base >= b.cidr.base ? Number(pool.cidr.base - b.cidr.base) : -1;
  const elsewhere = overlapped.has(b.name) ? takenElsewhere(b, blocks) : new Set<number>();
  for (let i = 0; i < size; i++) if (!b.used.has(i) && i !== reserved && !elsewhere.has(i)) return i;
  return undefined;
}

/** Names of the blocks that overlap another block: one sort and one sweep. */
export function overlappedBlocks(blocks: readonly BlockView[]): Set<string> {
  const sorted = [...blocks].sort((a, b) =>
    a.cidr.family !== b.cidr.family ? a.cidr.family - b.cidr.family : byBase(a, b),
  );
  const out = new Set<string>();
  let reach: { family: number; end: bigint; name: string } | undefined;
  for (const b of sorted) {
    if (reach !== undefined && reach.family === b.cidr.family && b.cidr.base < reach.end) {
      out.add(b.name);
      out.add(reach.name);
    }
    const end = b.cidr.base + prefixSize(b.cidr);
    if (reach === undefined || reach.family !== b.cidr.family || end > reach.end)
      reach = { family: b.cidr.family, end, name: b.name };
  }
  return out;
}

/**
 * Ordinals of `b` whose address another, overlapping block holds. Empty
 * unless blocks overlap, which claims no longer allow; but blocks claimed
 * before they did (a /24 beside a /26 of the same range) may still hold
 * addresses, and those must not be handed out a second time.
 */
function takenElsewhere(b: BlockView, blocks: readonly BlockView[]): Set<number> {
  const out = new Set<number>();
  const size = prefixSize(b.cidr);
  for (const o of blocks) {
    if (o === b || o.name === b.name || !overlaps(o.cidr, b.cidr)) continue;
    for (const ord of o.used.keys()) {
      const off = o.cidr.base + BigInt(ord) - b.cidr.base;
      if (off >= 0n && off < size) out.add(Number(off));
    }
  }
  return out;
}

function assign(family: Family, b: BlockView, ordinal: number): FamilyPlan {
  return {
    kind: "assign",
    family,
    block: b.name,
    ordinal,
    address: formatAddress({ family: family, value: b.cidr.base + BigInt(ordinal) }),
    prefix: familyBits(family),
  };
}

function byBase(a: BlockView, b: BlockView): number {
  return a.cidr.base < b.cidr.base ? -1 : a.cidr.base > b.cidr.base ? 1 : 0;
}

/** The CIDR of block `index` of a pool. */
export function blockCidr(pool: PoolView, index: bigint): Prefix {
  const size = 1n << BigInt(familyBits(pool.cidr.family) - pool.blockSize);
  return { family: pool.cidr.family, base: pool.cidr.base + index * size, length: pool.blockSize };
}

/** "block 10.244.1.0/24 of pool wide24 overlaps block 10.244.1.0/26 of pool default-ipv4 held by node-1" */
export function overlapReason(pool: string, cidr: Prefix, other: BlockView): string {
  return `block ${formatPrefix(cidr)} of pool ${pool} overlaps ${describeBlock(other)}`;
}

/**
 * The first block of the pool that overlaps no known block (of any pool and
 * size, pending ones included: claiming over them would only lose). Skips
 * past each block it hits, so it probes at most (blocks in the pool) + 1
 * candidates. `blocked` names the first foreign block in the way (another
 * pool's, or a size the pool no longer uses), for the error when nothing fits.
 */
export function firstFreeBlock(
  pool: PoolView,
  blocks: readonly BlockView[],
): { cidr: Prefix | undefined; blocked: string | undefined } {
  const size = 1n << BigInt(familyBits(pool.cidr.family) - pool.blockSize);
  const count = 1n << BigInt(pool.blockSize - pool.cidr.length);
  const near = blocks.filter((b) => overlaps(b.cidr, pool.cidr));
  let blocked: string | undefined;
  let i = 0n;
  while (i < count) {
    const c = blockCidr(pool, i);
    const hit = near.find((b) => overlaps(b.cidr, c));
    if (hit === undefined) return { cidr: c, blocked };
    if (blocked === undefined && (hit.pool !== pool.name || hit.cidr.length !== pool.blockSize))
      blocked = overlapReason(pool.name, c, hit);
    const end = hit.cidr.base + prefixSize(hit.cidr);
    const next = (end - pool.cidr.base + size - 1n) / size;
    i = next > i ? next : i + 1n;
  }
  return { cidr: undefined, blocked };
}

/**
 * Fraction of one block that this node keeps free in each pool it
 * allocates from (pre-claim): when the free addresses of its usable affine
 * blocks of the pool fall to this much of a block, the next block is
 * claimed in the background, so an ADD does not wait for a claim (about
 * 230–350 ms of API round trips: claim-protocol.ts) in steady state.
 */
export const SPARE_FRACTION = 0.25;

/**
 * Does this node want another block of `pool` ahead of need? True when the
 * free addresses of its usable affine blocks of the pool (`blocks` without
 * any it ignores) are at most `fraction` of one block, at least one of
 * them holds an address, and no claim of the pool by this node is pending. A block of one or two addresses has a spare
 * threshold of 0: claimed ahead only once full.
 */
export function wantsSpareBlock(
  pool: PoolView,
  blocks: readonly BlockView[],
  pools: readonly PoolView[],
  node: NodeView,
  fraction = SPARE_FRACTION,
): boolean {
  if (pool.disabled || pool.invalid !== undefined) return false;
  const blockSize = 1n << BigInt(familyBits(pool.cidr.family) - pool.blockSize);
  const overlapped = overlappedBlocks(blocks);
  let free = 0n;
  let inUse = false;
  for (const b of blocks) {
    if (b.pool !== pool.name || b.node !== node.name) continue;
    if (b.pending) return false; // a claim in flight
    if (blockUnusable(b, pools) !== undefined) continue;
    const size = prefixSize(b.cidr);
    inUse ||= b.used.size > 0;
    // Overlapping blocks (from before exclusive claims) are rare: count exactly there only.
    free += overlapped.has(b.name) ? countFree(b, blocks) : size - BigInt(b.used.size);
    // The pool's own network address is never handed out unasked (lowestFree).
    const reserved = pool.cidr.base - b.cidr.base;
    if (reserved >= 0n && reserved < size && !b.used.has(Number(reserved))) free--;
  }
  // A node with no address of the pool in use wants no spare (its empty blocks go: leak-check.ts).
  return inUse && Number(free) <= Math.floor(fraction * Number(blockSize));
}

/** Free ordinals of a block that overlaps others (whose addresses count as taken). */
function countFree(b: BlockView, blocks: readonly BlockView[]): bigint {
  const elsewhere = takenElsewhere(b, blocks);
  let n = 0n;
  const size = Number(prefixSize(b.cidr));
  for (let i = 0; i < size; i++) if (!b.used.has(i) && !elsewhere.has(i)) n++;
  return n;
}

/**
 * The block to pre-claim for `pool` (wantsSpareBlock), or undefined when
 * none is wanted or none is free.
 */
export function spareBlockClaim(
  pool: PoolView,
  blocks: readonly BlockView[],
  pools: readonly PoolView[],
  node: NodeView,
  fraction = SPARE_FRACTION,
): string | undefined {
  if (!wantsSpareBlock(pool, blocks, pools, node, fraction)) return undefined;
  const next = firstFreeBlock(pool, blocks);
  return next.cidr !== undefined ? formatPrefix(next.cidr) : undefined;
}

/** Plans one family for one request. `blocks` must reflect every earlier plan. */
export function planFamily(
  pools: readonly PoolView[],
  blocks: readonly BlockView[],
  node: NodeView,
  req: AllocationRequest,
  family: Family,
): FamilyPlan {
  // Idempotent: the handle already holds an address of this family.
  for (const b of blocks) {
    if (b.cidr.family !== family) continue;
    for (const [ord, h] of b.used) if (h === req.handle) return assign(family, b, ord);
  }

  const wanted = req.requestedIps.map((t) => ({ t, ip: parseAddress(t) }));
  const bad = wanted.find((w) => typeof w.ip === "string");
  if (bad) return fail(family, `requested address "${bad.t}" is not an IP address`, "invalid");
  const mine = wanted.flatMap((w) => (typeof w.ip !== "string" && w.ip.family === family ? [w.ip] : []));
  if (mine.length > 1) return fail(family, `more than one IPv${family} address requested`, "invalid");
  const specific = mine[0];
  if (specific !== undefined) return planSpecific(pools, blocks, specific);
  // Asked only for the other family's address: do not allocate this one.
  if (wanted.length > 0) return { kind: "none", family };

  const eligible = eligiblePools(pools, node, req, family);
  if (typeof eligible === "string") return fail(family, eligible, "invalid");
  if (eligible.length === 0) return { kind: "none", family };

  let blockedBy: string | undefined;
  const overlapped = overlappedBlocks(blocks);
  for (const pool of eligible) {
    const ofPool = blocks
      .filter(
        (b) => b.pool === pool.name && b.cidr.family === family && blockUnusable(b, pools) === undefined,
      )
      .sort(byBase);
    for (const b of ofPool) {
      if (b.node !== node.name) continue;
      const ord = lowestFree(b, pool, blocks, overlapped);
      if (ord !== undefined) return assign(family, b, ord);
    }
    const next = firstFreeBlock(pool, blocks);
    if (next.cidr !== undefined)
      return { kind: "claim", family, pool: pool.name, cidr: formatPrefix(next.cidr), affine: true };
    blockedBy ??= next.blocked;
    if (node.strictAffinity || pool.strictAffinity) continue;
    for (const b of ofPool) {
      if (b.node === node.name) continue;
      const ord = lowestFree(b, pool, blocks, overlapped);
      if (ord !== undefined) return assign(family, b, ord);
    }
  }
  return fail(
    family,
    `no free IPv${family} address in pool(s) ${eligible.map((p) => p.name).join(", ")}` +
      (blockedBy !== undefined ? ` (${blockedBy})` : ""),
    // Blocks of another pool or size in the way (a deleted pool's blocks
    // that running pods still use) go once they empty: try again later.
    blockedBy !== undefined ? "busy" : "exhausted",
  );
}

/**
 * A specific address: its block if one holds it (borrowed when another
 * node's: the pod asked for it, and that node advertises only its block, so
 * this node will announce the address as a /32 or /128), else a claim of the
 * block of the valid pool that holds it. Refused with the reason when the
 * address is taken, or lies in a pending block, a block of a deleted or
 * invalid pool, or no valid pool.
 */
function planSpecific(
  pools: readonly PoolView[],
  blocks: readonly BlockView[],
  address: Address,
): FamilyPlan {
  const { family, value } = address;
  const text = formatAddress(address);
  const containing = blocks.filter((x) => contains(x.cidr, address));
  if (containing.length > 0) {
    // Overlapping blocks (left from before claims were exclusive across
    // sizes) may each hold it: the address must be free in all of them.
    for (const b of containing) {
      if (b.used.has(Number(value - b.cidr.base)))
        return fail(family, `address ${text} is already in use`, "exhausted");
    }
    const pending = containing.find((b) => b.pending);
    if (pending !== undefined)
      return fail(
        family,
        `address ${text} is in ${describeBlock(pending)}, which is still being claimed`,
        "busy",
      );
    const usable = containing.find((b) => blockUnusable(b, pools) === undefined);
    if (usable === undefined) {
      const first = containing[0];
      const why = first !== undefined ? blockUnusable(first, pools) : undefined;
      return fail(family, `address ${text} cannot be allocated: ${why ?? "no usable block"}`, "invalid");
    }
    return assign(family, usable, Number(value - usable.cidr.base));
  }
  const holding = pools.filter((p) => contains(p.cidr, address));
  const pool = holding.find((p) => p.invalid === undefined);
  if (pool === undefined) {
    const inv = holding[0];
    if (inv !== undefined)
      return fail(
        family,
        `address ${text} is in pool ${inv.name}, which is invalid: ${inv.invalid ?? ""}`,
        "invalid",
      );
    return fail(family, `address ${text} is in no IP pool`, "invalid");
  }
  if (pool.disabled) return fail(family, `address ${text} is in disabled pool ${pool.name}`, "invalid");
  const cidr = prefixOf(address, pool.blockSize);
  const other = blocks.find((b) => overlaps(b.cidr, cidr));
  if (other !== undefined)
    return fail(
      family,
      `address ${text} cannot be claimed: ${overlapReason(pool.name, cidr, other)}`,
      "invalid",
    );
  return { kind: "claim", family, pool: pool.name, cidr: formatPrefix(cidr), affine: true };
}

/**
 * Plans both families. Dual-stack is both or neither: an error in one
 * family fails the whole request, and "none" in both is an error too.
 */
export function planRequest(
  pools: readonly PoolView[],
  blocks: readonly BlockView[],
  node: NodeView,
  req: AllocationRequest,
): FamilyPlan[] | { error: string; cause: PlanErrorCause } {
  const plans = ([4, 6] as const).map((f) => planFamily(pools, blocks, node, req, f));
  const err = plans.find((p) => p.kind === "error");
  if (err?.kind === "error") return { error: err.reason, cause: err.cause };
  const real = plans.filter((p) => p.kind !== "none");
  if (real.length === 0)
    return {
      error: "no enabled IP pool matches this pod (node, namespace or annotations)",
      cause: "exhausted",
    };
  return real;
}

/** Every handle on this node that the runtime no longer knows (CNI GC). */
export function gcHandles(
  allocations: readonly { handle: string; containerID: string | undefined; ifname: string | undefined }[],
  valid: readonly { containerID: string; ifname: string }[],
): string[] {
  const keep = new Set(valid.map((v) => `${v.containerID}\u0000${v.ifname}`));
  return [
    ...new Set(
      allocations
        .filter((a) => !keep.has(`${a.containerID ?? ""}\u0000${a.ifname ?? ""}`))
        .map((a) => a.handle),
    ),
  ].sort();
}
