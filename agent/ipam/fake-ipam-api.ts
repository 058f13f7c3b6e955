/**
 * An in-memory IpamApi with the API server's semantics that IPAM relies on:
 * one global resourceVersion counter (etcd's revision), create-if-absent,
 * compare-and-swap replace, delete with a resourceVersion precondition, and
 * creationTimestamp from an injected clock. `before` lets a test pause any
 * call to interleave two claimers step by step.
 */
import type { BlockAffinity, IPAMBlock, IPPool } from "../../crds/ipam.js";
import type { IpamApi } from "./ipam-api.js";

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

  constructor(private readonly o: FakeIpamApiOptions = {}) {}

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

  /** Create as the API server does: "exists" for a taken name, else the stored (stamped) object. */
  private createIn<T extends IPAMBlock | BlockAffinity>(table: Map<string, T>, obj: T): T | "exists" {
    if (table.has(obj.metadata.name)) return "exists";
    const s = this.stamp(obj);
    table.set(s.metadata.name, s);
    return copy(s);
  }

  /** Replace as the API server does: "gone", "conflict" on a stale resourceVersion, else the stored object. */
  private replaceIn<T extends IPAMBlock | BlockAffinity>(
    table: Map<string, T>,
    obj: T,
  ): T | "conflict" | "gone" {
    const cur = table.get(obj.metadata.name);
    if (cur === undefined) return "gone";
    if (obj.metadata.resourceVersion !== cur.metadata.resourceVersion) return "conflict";
    const s = this.stamp(obj, cur.metadata.creationTimestamp);
    table.set(s.metadata.name, s);
    return copy(s);
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
  async listBlocks(): Promise<IPAMBlock[]> {
    await this.enter("listBlocks");
    return [...this.blocks.values()].map(copy);
  }
  async listAffinities(): Promise<BlockAffinity[]> {
    await this.enter("listAffinities");
    return [...this.affinities.values()].map(copy);
  }
  async getBlock(name: string): Promise<IPAMBlock | undefined> {
    await this.enter("getBlock", name);
    const b = this.blocks.get(name);
    return b && copy(b);
  }
  async createBlock(b: IPAMBlock): Promise<IPAMBlock | "exists"> {
    await this.enter("createBlock", b.metadata.name);
    return this.createIn(this.blocks, b);
  }
  async replaceBlock(b: IPAMBlock): Promise<IPAMBlock | "conflict" | "gone"> {
    await this.enter("replaceBlock", b.metadata.name);
    return this.replaceIn(this.blocks, b);
  }
  async deleteBlock(name: string, resourceVersion: string | undefined): Promise<"ok" | "conflict" | "gone"> {
    await this.enter("deleteBlock", name);
    const cur = this.blocks.get(name);
    if (cur === undefined) return "gone";
    if (resourceVersion !== undefined && resourceVersion !== cur.metadata.resourceVersion) return "conflict";
    this.blocks.delete(name);
    this.nextRv();
    return "ok";
  }
  async getAffinity(name: string): Promise<BlockAffinity | undefined> {
    await this.enter("getAffinity", name);
    const a = this.affinities.get(name);
    return a && copy(a);
  }
  async createAffinity(a: BlockAffinity): Promise<BlockAffinity | "exists"> {
    await this.enter("createAffinity", a.metadata.name);
    return this.createIn(this.affinities, a);
  }
  async replaceAffinity(a: BlockAffinity): Promise<BlockAffinity | "conflict" | "gone"> {
    await this.enter("replaceAffinity", a.metadata.name);
    return this.replaceIn(this.affinities, a);
  }
  async deleteAffinity(name: string): Promise<void> {
    await this.enter("deleteAffinity", name);
    if (this.affinities.delete(name)) this.nextRv();
  }
}
