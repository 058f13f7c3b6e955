/**
 * An in-memory IpamApi with the API server's semantics that IPAM relies on:
 * one global resourceVersion counter (etcd's revision), create-if-absent,
 * compare-and-swap replace, delete with a resourceVersion precondition, and
 * creationTimestamp from an injected clock. `before` lets a test pause any
 * call to interleave two claimers step by step.
 */
import type { BlockAffinity, IPAMBlock, IPPool } from "../../crds/ipam.js";
import type { IpamApi, IpamObjects } from "./ipam-api.js";

export type FakeOp =
  | "listPools"
  | "listBlocks"
  | "listAffinities"
  | "getBlock"
  | "createBlock"
  | "replaceBlock"
  | "deleteBlock"
  | "getAffinity"
  | "createAffinity"
  | "replaceAffinity"
  | "deleteAffinity";

export interface FakeIpamApiOptions {
  now?: () => Date;
  /** Formats the counter as a resourceVersion (default: decimal, as etcd). */
  rvText?: (n: number) => string;
  /** Awaited before every call (after its arguments are fixed, before it takes effect). */
  before?: (op: FakeOp, name: string | undefined) => Promise<void> | void;
}

function copy<T>(x: T): T {
  return structuredClone(x);
}

export class FakeIpamApi implements IpamApi {
  private rv = 0;
  readonly pools = new Map<string, IPPool>();
  readonly blocks = new Map<string, IPAMBlock>();
  readonly affinities = new Map<string, BlockAffinity>();
  /** Calls made, in order (op and object name). */
  readonly calls: string[] = [];

  readonly ipamBlocks: IpamObjects<IPAMBlock>;
  readonly blockAffinities: IpamObjects<BlockAffinity>;

  constructor(private readonly o: FakeIpamApiOptions = {}) {
    const server: FakeServer = {
      enter: (op, name) => this.enter(op, name),
      stamp: (obj, created) => this.stamp(obj, created),
      nextRv: () => this.nextRv(),
    };
    this.ipamBlocks = new FakeObjects(server, this.blocks, {
      list: "listBlocks",
      get: "getBlock",
      create: "createBlock",
      replace: "replaceBlock",
      delete: "deleteBlock",
    });
    this.blockAffinities = new FakeObjects(server, this.affinities, {
      list: "listAffinities",
      get: "getAffinity",
      create: "createAffinity",
      replace: "replaceAffinity",
      delete: "deleteAffinity",
    });
  }

  private nextRv(): string {
    this.rv++;
    return (this.o.rvText ?? String)(this.rv);
  }

  private async enter(op: FakeOp, name?: string): Promise<void> {
    this.calls.push(name !== undefined ? `${op} ${name}` : op);
    await this.o.before?.(op, name);
  }

  private stamp<
    T extends {
      metadata: {
        name: string;
        resourceVersion?: string | undefined;
        creationTimestamp?: string | undefined;
      };
    },
  >(obj: T, created?: string): T {
    const out = copy(obj);
    out.metadata.resourceVersion = this.nextRv();
    out.metadata.creationTimestamp = created ?? (this.o.now ?? (() => new Date()))().toISOString();
    return out;
  }

  /** Adds a pool as the API server would (resourceVersion, creationTimestamp). */
  addPool(p: IPPool): IPPool {
    const s = this.stamp(p);
    this.pools.set(s.metadata.name, s);
    return copy(s);
  }

  /** Stores a block directly (a leftover of an earlier run, a crashed claimer). */
  putBlock(b: IPAMBlock): IPAMBlock {
    const s = this.stamp(b, b.metadata.creationTimestamp);
    this.blocks.set(s.metadata.name, s);
    return copy(s);
  }

  async listPools(): Promise<IPPool[]> {
    await this.enter("listPools");
    return [...this.pools.values()].map(copy);
  }
}

type Stored = IPAMBlock | BlockAffinity;

/** The ops one kind's calls are recorded (and paused) as. */
interface KindOps {
  list: FakeOp;
  get: FakeOp;
  create: FakeOp;
  replace: FakeOp;
  delete: FakeOp;
}

/** What a kind's objects share with the whole fake: the one resourceVersion counter, the call log. */
interface FakeServer {
  enter(op: FakeOp, name?: string): Promise<void>;
  stamp<T extends Stored>(obj: T, created?: string): T;
  nextRv(): string;
}

/** One kind's objects with the API server's semantics, in `table`. */
class FakeObjects<T extends Stored> implements IpamObjects<T> {
  constructor(
    private readonly server: FakeServer,
    private readonly table: Map<string, T>,
    private readonly ops: KindOps,
  ) {}

  async list(): Promise<T[]> {
    await this.server.enter(this.ops.list);
    return [...this.table.values()].map(copy);
  }

  async get(name: string): Promise<T | undefined> {
    await this.server.enter(this.ops.get, name);
    const x = this.table.get(name);
    return x && copy(x);
  }

  /** "exists" for a taken name, else the stored (stamped) object. */
  async create(obj: T): Promise<T | "exists"> {
    await this.server.enter(this.ops.create, obj.metadata.name);
    if (this.table.has(obj.metadata.name)) return "exists";
    const s = this.server.stamp(obj);
    this.table.set(s.metadata.name, s);
    return copy(s);
  }

  /** "gone", "conflict" on a stale resourceVersion, else the stored object. */
  async replace(obj: T): Promise<T | "conflict" | "gone"> {
    await this.server.enter(this.ops.replace, obj.metadata.name);
    const cur = this.table.get(obj.metadata.name);
    if (cur === undefined) return "gone";
    if (obj.metadata.resourceVersion !== cur.metadata.resourceVersion) return "conflict";
    const s = this.server.stamp(obj, cur.metadata.creationTimestamp);
    this.table.set(s.metadata.name, s);
    return copy(s);
  }

  async delete(name: string, resourceVersion?: string): Promise<"ok" | "conflict" | "gone"> {
    await this.server.enter(this.ops.delete, name);
    const cur = this.table.get(name);
    if (cur === undefined) return "gone";
    if (resourceVersion !== undefined && resourceVersion !== cur.metadata.resourceVersion) return "conflict";
    this.table.delete(name);
    this.server.nextRv();
    return "ok";
  }
}
