/**
 * The IPAM consistency check behind `trellisctl ipam show|check|release`,
 * pure: from pools, blocks, affinities, pods and nodes to a usage summary
 * and a list of findings, each carrying exactly what `release` would undo.
 */
import {
  type BlockAffinity,
  type IPAMBlock,
  type IPPool,
  affinityName,
  affinityNode,
  blockPending,
  validatePool,
} from "../../crds/ipam.js";
import { type Prefix, contains, formatAddress, parsePrefix, prefixSize } from "../../net/address.js";
import { poolVerdicts } from "./pool-validity.js";
import { isReservation } from "./reservations.js";

export interface PodInfo {
  namespace: string;
  name: string;
  node: string | undefined;
  /** status.podIPs, when the pod reported any. */
  ips: string[];
}

export type FindingKind =
  | "pod-missing" // the allocation names a pod that does not exist
  | "leaked" // the pod exists but holds other addresses now (an old sandbox's address)
  | "node-missing" // the allocation was made on a node that no longer exists
  | "duplicate-address" // one address in two blocks
  | "duplicate-handle" // one handle holding two addresses of one family
  | "orphan-block" // a block whose node, pool or affinity is gone
  | "orphan-affinity" // an affinity without its block
  | "overlapping-blocks" // two confirmed blocks share addresses (claimed before claims were exclusive across sizes)
  | "invalid-pool"; // a pool the agents reject (bad CIDR, block size out of range, bad selector)

export interface Finding {
  kind: FindingKind;
  message: string;
  block?: string;
  address?: string;
  handle?: string;
  affinity?: string;
}

export interface PoolUsage {
  name: string;
  cidr: string;
  blockSize: number | undefined;
  disabled: boolean;
  blocks: number;
  /** Addresses held for pods (reservations not counted). */
  inUse: number;
  /** Free addresses nodes keep reserved for their next ADDs (reservations.ts). */
  reserved: number;
  /** Addresses in the claimed blocks. */
  capacity: string;
  /** Addresses may be allocated from it (pool-validity.ts: it validates and overlaps no older pool). */
  valid: boolean;
  /** Why it is not valid. */
  reason?: string;
  /** No IPPool of this name exists; its blocks are left (they still hold running pods' addresses). */
  deleted: boolean;
  /** "VALID", "INVALID: <reason>" or "pool deleted, N in use". */
  status: string;
}

export interface BlockUsage {
  name: string;
  cidr: string;
  pool: string;
  node: string | undefined;
  /** Addresses held for pods (reservations not counted). */
  inUse: number;
  /** Free addresses its node keeps reserved for its next ADDs (reservations.ts). */
  reserved: number;
  size: number;
  state: "pending" | "confirmed";
  /** "ok", or why no address is allocated from it: "pending", "pool deleted, N in use", "pool invalid", "outside pool". */
  status: string;
}

export interface IpamSnapshot {
  pools: readonly IPPool[];
  blocks: readonly IPAMBlock[];
  affinities: readonly BlockAffinity[];
  pods: readonly PodInfo[];
  nodes: readonly string[];
}

function deletedStatus(inUse: number): string {
  return `pool deleted, ${inUse} in use`;
}

export function usage(s: IpamSnapshot): { pools: PoolUsage[]; blocks: BlockUsage[] } {
  const verdicts = new Map(poolVerdicts(s.pools).map((v) => [v.name, v]));
  // A reservation is a free address its node set aside, not a pod's: counted apart.
  const reservedIn = (b: IPAMBlock): number =>
    b.spec.allocations.filter((a) => isReservation(a.handle)).length;
  const podsIn = (b: IPAMBlock): number => b.spec.allocations.length - reservedIn(b);
  const inUseOfPool = new Map<string, number>();
  for (const b of s.blocks) inUseOfPool.set(b.spec.pool, (inUseOfPool.get(b.spec.pool) ?? 0) + podsIn(b));
  const blocks = s.blocks
    .map((b): BlockUsage => {
      const c = parsePrefix(b.spec.cidr);
      const v = verdicts.get(b.spec.pool);
      let status = "ok";
      if (blockPending(b)) status = "pending";
      else if (v === undefined) status = deletedStatus(inUseOfPool.get(b.spec.pool) ?? 0);
      else if (v.invalid !== undefined) status = "pool invalid";
      else if (typeof c === "string" || v.cidr === undefined || !contains(v.cidr, c)) status = "outside pool";
      return {
        name: b.metadata.name,
        cidr: b.spec.cidr,
        pool: b.spec.pool,
        node: affinityNode(b.spec.affinity),
        inUse: podsIn(b),
        reserved: reservedIn(b),
        size: typeof c === "string" ? 0 : Number(prefixSize(c)),
        state: blockPending(b) ? "pending" : "confirmed",
        status,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const summary = (name: string): { blocks: number; inUse: number; reserved: number; capacity: string } => {
    const mine = blocks.filter((b) => b.pool === name);
    return {
      blocks: mine.length,
      inUse: mine.reduce((n, b) => n + b.inUse, 0),
      reserved: mine.reduce((n, b) => n + b.reserved, 0),
      capacity: String(mine.reduce((n, b) => n + b.size, 0)),
    };
  };
  const pools: PoolUsage[] = s.pools.map((p) => {
    const reason = verdicts.get(p.metadata.name)?.invalid;
    return {
      name: p.metadata.name,
      cidr: p.spec.cidr,
      blockSize: p.spec.blockSize,
      disabled: p.spec.disabled === true,
      ...summary(p.metadata.name),
      valid: reason === undefined,
      ...(reason !== undefined ? { reason } : {}),
      deleted: false,
      status: reason === undefined ? "VALID" : `INVALID: ${reason}`,
    };
  });
  // Pools that are gone but whose blocks remain: shown, not silently orphaned.
  for (const name of new Set(s.blocks.map((b) => b.spec.pool))) {
    if (verdicts.has(name)) continue;
    const sum = summary(name);
    pools.push({
      name,
      cidr: "",
      blockSize: undefined,
      disabled: false,
      ...sum,
      valid: false,
      reason: "deleted",
      deleted: true,
      status: deletedStatus(sum.inUse),
    });
  }
  pools.sort((a, b) => (a.name < b.name ? -1 : 1));
  return { pools, blocks };
}

/**
 * Pairs of confirmed blocks that share addresses: sorted by start, each
 * block is compared with the ones that start before it ends.
 */
function overlappingBlocks(blocks: readonly IPAMBlock[]): [IPAMBlock, IPAMBlock][] {
  const parsed: { b: IPAMBlock; c: Prefix }[] = [];
  for (const b of blocks) {
    const c = parsePrefix(b.spec.cidr);
    if (typeof c !== "string" && !blockPending(b)) parsed.push({ b, c });
  }
  parsed.sort((x, y) =>
    x.c.family !== y.c.family
      ? x.c.family - y.c.family
      : x.c.base < y.c.base
        ? -1
        : x.c.base > y.c.base
          ? 1
          : 0,
  );
  const out: [IPAMBlock, IPAMBlock][] = [];
  for (let i = 0; i < parsed.length; i++) {
    const a = parsed[i];
    if (a === undefined) continue;
    const end = a.c.base + prefixSize(a.c);
    for (let j = i + 1; j < parsed.length; j++) {
      const b = parsed[j];
      if (b === undefined || b.c.family !== a.c.family || b.c.base >= end) break;
      out.push([a.b, b.b]);
    }
  }
  return out;
}

export function check(s: IpamSnapshot): Finding[] {
  const out: Finding[] = [];
  for (const p of s.pools) {
    const v = validatePool(p);
    if (!v.ok)
      out.push({ kind: "invalid-pool", message: `pool ${p.metadata.name} is rejected: ${v.reason}` });
  }
  const pods = new Map(s.pods.map((p) => [`${p.namespace}/${p.name}`, p]));
  const nodes = new Set(s.nodes);
  const pools = new Map(s.pools.map((p) => [p.metadata.name, p]));
  const seenAddr = new Map<string, string>();
  const handleFamilies = new Map<string, string>();
  const affinities = new Map(s.affinities.map((a) => [a.metadata.name, a]));
  const blockAffinityNames = new Set<string>();
  const holder = (b: IPAMBlock): string => {
    const n = affinityNode(b.spec.affinity);
    return n !== undefined ? `held by ${n}` : "held by no node";
  };
  for (const [a, b] of overlappingBlocks(s.blocks)) {
    out.push({
      kind: "overlapping-blocks",
      block: b.metadata.name,
      message: `block ${b.spec.cidr} of pool ${b.spec.pool} ${holder(b)} overlaps block ${a.spec.cidr} of pool ${a.spec.pool} ${holder(a)}`,
    });
  }

  for (const b of s.blocks) {
    const name = b.metadata.name;
    const cidr = parsePrefix(b.spec.cidr);
    const node = affinityNode(b.spec.affinity);
    if (node !== undefined) blockAffinityNames.add(affinityName(node, b.spec.cidr));
    const pool = pools.get(b.spec.pool);
    const poolCidr = pool ? parsePrefix(pool.spec.cidr) : undefined;
    if (typeof cidr === "string") {
      out.push({ kind: "orphan-block", block: name, message: `block ${name} has an invalid CIDR: ${cidr}` });
      continue;
    }
    if (node !== undefined && !nodes.has(node)) {
      out.push({
        kind: "orphan-block",
        block: name,
        message: `block ${b.spec.cidr} is affine to node ${node}, which does not exist`,
      });
    } else if (pool === undefined) {
      out.push({
        kind: "orphan-block",
        block: name,
        message: `block ${b.spec.cidr} belongs to pool ${b.spec.pool}, which does not exist`,
      });
    } else if (poolCidr !== undefined && typeof poolCidr !== "string" && !contains(poolCidr, cidr)) {
      out.push({
        kind: "orphan-block",
        block: name,
        message: `block ${b.spec.cidr} lies outside its pool ${pool.spec.cidr}`,
      });
    } else if (
      node !== undefined &&
      !blockPending(b) && // a pending claim gets its affinity once confirmed
      !affinities.has(affinityName(node, b.spec.cidr))
    ) {
      out.push({
        kind: "orphan-block",
        block: name,
        message: `block ${b.spec.cidr} has no BlockAffinity for node ${node}`,
        affinity: affinityName(node, b.spec.cidr),
      });
    }
    for (const a of b.spec.allocations) {
      const address = formatAddress({ family: cidr.family, value: cidr.base + BigInt(a.ordinal) });
      const prior = seenAddr.get(address);
      if (prior !== undefined) {
        out.push({
          kind: "duplicate-address",
          block: name,
          address,
          handle: a.handle,
          message: `address ${address} is allocated in blocks ${prior} and ${name}`,
        });
      }
      seenAddr.set(address, name);
      const hf = `${a.handle}\u0000${cidr.family}`;
      if (handleFamilies.has(hf)) {
        out.push({
          kind: "duplicate-handle",
          block: name,
          address,
          handle: a.handle,
          message: `handle ${a.handle} holds a second IPv${cidr.family} address ${address} (first ${handleFamilies.get(hf)})`,
        });
      } else handleFamilies.set(hf, address);
      const at = a.attributes;
      const where =
        at?.namespace !== undefined && at.pod !== undefined ? `${at.namespace}/${at.pod}` : undefined;
      if (at?.node !== undefined && !nodes.has(at.node)) {
        out.push({
          kind: "node-missing",
          block: name,
          address,
          handle: a.handle,
          message: `${address} (${a.handle}) was allocated on node ${at.node}, which does not exist`,
        });
        continue;
      }
      if (where === undefined) continue;
      const pod = pods.get(where);
      if (pod === undefined) {
        out.push({
          kind: "pod-missing",
          block: name,
          address,
          handle: a.handle,
          message: `${address} is held for pod ${where}, which does not exist`,
        });
      } else if (pod.ips.length > 0 && !pod.ips.includes(address)) {
        out.push({
          kind: "leaked",
          block: name,
          address,
          handle: a.handle,
          message: `${address} (${a.handle}) is held for pod ${where}, whose addresses are now ${pod.ips.join(", ")}`,
        });
      }
    }
  }
  for (const a of s.affinities) {
    if (!blockAffinityNames.has(a.metadata.name)) {
      out.push({
        kind: "orphan-affinity",
        affinity: a.metadata.name,
        message: `BlockAffinity ${a.metadata.name} (${a.spec.node} -> ${a.spec.cidr}) has no block`,
      });
    }
  }
  return out;
}

/** The releases a list of findings asks for, grouped: handles per block, blocks and affinities to delete. */
export function releasePlan(
  findings: readonly Finding[],
  blocks: readonly IPAMBlock[],
): {
  handles: Map<string, Set<string>>;
  blocks: string[];
  affinities: string[];
} {
  const handles = new Map<string, Set<string>>();
  const delBlocks = new Set<string>();
  const affs = new Set<string>();
  for (const f of findings) {
    if (f.kind === "orphan-affinity" && f.affinity !== undefined) affs.add(f.affinity);
    else if (f.kind === "orphan-block" && f.block !== undefined) {
      if (f.affinity !== undefined) continue; // repairable: the agent recreates the affinity
      delBlocks.add(f.block);
    } else if (f.block !== undefined && f.handle !== undefined && f.kind !== "duplicate-address") {
      let s = handles.get(f.block);
      if (s === undefined) handles.set(f.block, (s = new Set()));
      s.add(f.handle);
    }
  }
  // An orphan block is deleted only when nothing live remains in it.
  const deletable = [...delBlocks].filter((name) => {
    const b = blocks.find((x) => x.metadata.name === name);
    const left = (b?.spec.allocations ?? []).filter((a) => !(handles.get(name)?.has(a.handle) ?? false));
    return left.length === 0;
  });
  for (const name of deletable) {
    const b = blocks.find((x) => x.metadata.name === name);
    const node = affinityNode(b?.spec.affinity);
    if (b !== undefined && node !== undefined) affs.add(affinityName(node, b.spec.cidr));
  }
  return { handles, blocks: deletable.sort(), affinities: [...affs].sort() };
}
