/**
 * The block allocator: a pure function from (pools, blocks, node, request)
 * to a plan per address family. It never talks to the API; the store shell
 * (ipam-store.ts) executes the plan with compare-and-swap writes and calls
 * back in when a write loses a race.
 *
 * Order of preference for one family (Calico's, made deterministic):
 *   1. a specific address asked for (`trellis.dev/ipAddrs` or the `ips`
 *      capability): its block, or claim the block that holds it;
 *   2. for each eligible pool in order: the lowest free ordinal of this
 *      node's affine blocks (lowest CIDR first);
 *   3. claim the lowest unclaimed block of the pool;
 *   4. unless strict affinity: borrow the lowest free ordinal of any other
 *      block of the pool.
 */
import {
  type Cidr,
  type IPAMBlock,
  type IPPool,
  type IpFamily,
  type SelectorTerm,
  DEFAULT_BLOCK_SIZE,
  affinityNode,
  blockName,
  cidrContains,
  cidrSize,
  familyBits,
  formatCidr,
  formatIp,
  parseCidr,
  parseIp,
  parseSelector,
  selectorMatches,
} from "../../crds/ipam.js";

export const ANNOTATION_IP_ADDRS = "trellis.dev/ipAddrs";
export const ANNOTATION_IPV4_POOLS = "trellis.dev/ipv4pools";
export const ANNOTATION_IPV6_POOLS = "trellis.dev/ipv6pools";

/** A pool as the allocator sees it: parsed once. */
export interface PoolView {
  name: string;
  cidr: Cidr;
  blockSize: number;
  disabled: boolean;
  nodeSelector: SelectorTerm[];
  namespaceSelector: SelectorTerm[];
  strictAffinity: boolean;
}

/** A block as the allocator sees it: parsed CIDR and the set of used ordinals. */
export interface BlockView {
  name: string;
  cidr: Cidr;
  pool: string;
  /** Node that owns the block (from "host:<node>"), if any. */
  node: string | undefined;
  /** ordinal -> handle */
  used: Map<number, string>;
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

export type FamilyPlan =
  | { kind: "assign"; family: IpFamily; block: string; ordinal: number; address: string; prefix: number }
  | { kind: "claim"; family: IpFamily; pool: string; cidr: string; affine: boolean }
  | { kind: "none"; family: IpFamily }
  | { kind: "error"; family: IpFamily; reason: string };

export function poolView(p: IPPool): PoolView | string {
  const cidr = parseCidr(p.spec.cidr);
  if (typeof cidr === "string") return `pool ${p.metadata.name}: ${cidr}`;
  const ns = parseSelector(p.spec.namespaceSelector ?? "");
  const nodeSel = parseSelector(p.spec.nodeSelector ?? "");
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
  const cidr = parseCidr(b.spec.cidr);
  if (typeof cidr === "string") return undefined;
  const used = new Map<number, string>();
  for (const a of b.spec.allocations) used.set(a.ordinal, a.handle);
  return { name: b.metadata.name, cidr, pool: b.spec.pool, node: affinityNode(b.spec.affinity), used };
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
  family: IpFamily,
): PoolView[] | string {
  const named = req.poolNames[family];
  if (named !== undefined) {
    const out: PoolView[] = [];
    for (const n of named) {
      const p = pools.find((x) => x.name === n);
      if (p === undefined) return `IPv${family} pool "${n}" (from annotation) does not exist`;
      if (p.cidr.family !== family) return `pool "${n}" is not an IPv${family} pool`;
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
        selectorMatches(p.nodeSelector, node.labels) &&
        selectorMatches(p.namespaceSelector, req.namespaceLabels),
    )
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The lowest free ordinal of a block. The pool's own network address is
 * never handed out unasked: in IPv6 it is the Subnet-Router anycast address
 * (RFC 4291 §2.6.1), in IPv4 the address tools read as "the network".
 */
function lowestFree(b: BlockView, pool: PoolView | undefined): number | undefined {
  const size = Number(cidrSize(b.cidr));
  const reserved =
    pool !== undefined && pool.cidr.base >= b.cidr.base ? Number(pool.cidr.base - b.cidr.base) : -1;
  for (let i = 0; i < size; i++) if (!b.used.has(i) && i !== reserved) return i;
  return undefined;
}

function assign(family: IpFamily, b: BlockView, ordinal: number): FamilyPlan {
  return {
    kind: "assign",
    family,
    block: b.name,
    ordinal,
    address: formatIp(family, b.cidr.base + BigInt(ordinal)),
    prefix: familyBits(family),
  };
}

function byBase(a: BlockView, b: BlockView): number {
  return a.cidr.base < b.cidr.base ? -1 : a.cidr.base > b.cidr.base ? 1 : 0;
}

/** The CIDR of block `index` of a pool. */
export function blockCidr(pool: PoolView, index: bigint): Cidr {
  const size = 1n << BigInt(familyBits(pool.cidr.family) - pool.blockSize);
  return { family: pool.cidr.family, base: pool.cidr.base + index * size, prefix: pool.blockSize };
}

/** The first block of the pool that no IPAMBlock holds yet. */
export function firstUnclaimedBlock(pool: PoolView, claimed: ReadonlySet<string>): Cidr | undefined {
  const count = 1n << BigInt(pool.blockSize - pool.cidr.prefix);
  // At most claimed.size + 1 probes: every skipped index is a claimed block.
  const limit = BigInt(claimed.size) + 1n;
  for (let i = 0n; i < count && i <= limit; i++) {
    const c = blockCidr(pool, i);
    if (!claimed.has(blockName(formatCidr(c)))) return c;
  }
  return undefined;
}

/** Plans one family for one request. `blocks` must reflect every earlier plan. */
export function planFamily(
  pools: readonly PoolView[],
  blocks: readonly BlockView[],
  node: NodeView,
  req: AllocationRequest,
  family: IpFamily,
): FamilyPlan {
  // Idempotent: the handle already holds an address of this family.
  for (const b of blocks) {
    if (b.cidr.family !== family) continue;
    for (const [ord, h] of b.used) if (h === req.handle) return assign(family, b, ord);
  }

  const wanted = req.requestedIps.map((t) => ({ t, ip: parseIp(t) }));
  const bad = wanted.find((w) => w.ip === undefined);
  if (bad) return { kind: "error", family, reason: `requested address "${bad.t}" is not an IP address` };
  const mine = wanted.filter((w) => w.ip?.family === family);
  if (mine.length > 1)
    return { kind: "error", family, reason: `more than one IPv${family} address requested` };
  const specific = mine[0]?.ip;
  if (specific !== undefined) {
    const text = formatIp(family, specific.value);
    const b = blocks.find((x) => cidrContains(x.cidr, family, specific.value));
    if (b !== undefined) {
      const ord = Number(specific.value - b.cidr.base);
      const holder = b.used.get(ord);
      if (holder !== undefined) return { kind: "error", family, reason: `address ${text} is already in use` };
      return assign(family, b, ord);
    }
    const pool = pools.find((p) => cidrContains(p.cidr, family, specific.value));
    if (pool === undefined) return { kind: "error", family, reason: `address ${text} is in no IP pool` };
    if (pool.disabled)
      return { kind: "error", family, reason: `address ${text} is in disabled pool ${pool.name}` };
    const size = 1n << BigInt(familyBits(family) - pool.blockSize);
    const base = pool.cidr.base + ((specific.value - pool.cidr.base) / size) * size;
    return {
      kind: "claim",
      family,
      pool: pool.name,
      cidr: formatCidr({ family, base, prefix: pool.blockSize }),
      affine: true,
    };
  }
  // Asked only for the other family's address: do not allocate this one.
  if (wanted.length > 0) return { kind: "none", family };

  const eligible = eligiblePools(pools, node, req, family);
  if (typeof eligible === "string") return { kind: "error", family, reason: eligible };
  if (eligible.length === 0) return { kind: "none", family };

  for (const pool of eligible) {
    const ofPool = blocks.filter((b) => b.pool === pool.name && b.cidr.family === family).sort(byBase);
    for (const b of ofPool) {
      if (b.node !== node.name) continue;
      const ord = lowestFree(b, pool);
      if (ord !== undefined) return assign(family, b, ord);
    }
    const claimed = new Set(blocks.map((b) => b.name));
    const next = firstUnclaimedBlock(pool, claimed);
    if (next !== undefined)
      return { kind: "claim", family, pool: pool.name, cidr: formatCidr(next), affine: true };
    if (node.strictAffinity || pool.strictAffinity) continue;
    for (const b of ofPool) {
      if (b.node === node.name) continue;
      const ord = lowestFree(b, pool);
      if (ord !== undefined) return assign(family, b, ord);
    }
  }
  return {
    kind: "error",
    family,
    reason: `no free IPv${family} address in pool(s) ${eligible.map((p) => p.name).join(", ")}`,
  };
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
): FamilyPlan[] | { error: string } {
  const plans = ([4, 6] as const).map((f) => planFamily(pools, blocks, node, req, f));
  const err = plans.find((p) => p.kind === "error");
  if (err?.kind === "error") return { error: err.reason };
  const real = plans.filter((p) => p.kind !== "none");
  if (real.length === 0)
    return { error: "no enabled IP pool matches this pod (node, namespace or annotations)" };
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
