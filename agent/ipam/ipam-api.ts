/**
 * The IPAM objects over the Kubernetes API (the agent's KubeClient).
 * Every update is a compare-and-swap: the body carries the resourceVersion
 * it was read at and the API server answers 409 when it moved on; callers
 * get "conflict"/"exists" as values, never as exceptions.
 */
import type { KubeClient } from "../k8s/kube-client.js";
import { httpStatus, resourcePath } from "../k8s/kube-request.js";
import {
  IPAM_API_VERSION,
  IPAM_GROUP,
  IPAM_VERSION,
  type BlockAffinity,
  type IPAMBlock,
  type IPPool,
} from "../../crds/ipam.js";

export interface IpamApi {
  listPools(): Promise<IPPool[]>;
  listBlocks(): Promise<IPAMBlock[]>;
  listAffinities(): Promise<BlockAffinity[]>;
  getBlock(name: string): Promise<IPAMBlock | undefined>;
  createBlock(b: IPAMBlock): Promise<IPAMBlock | "exists">;
  replaceBlock(b: IPAMBlock): Promise<IPAMBlock | "conflict" | "gone">;
  deleteBlock(name: string, resourceVersion: string | undefined): Promise<"ok" | "conflict" | "gone">;
  getAffinity(name: string): Promise<BlockAffinity | undefined>;
  createAffinity(a: BlockAffinity): Promise<BlockAffinity | "exists">;
  replaceAffinity(a: BlockAffinity): Promise<BlockAffinity | "conflict" | "gone">;
  deleteAffinity(name: string): Promise<void>;
}

const PLURAL = { pool: "ippools", block: "ipamblocks", affinity: "blockaffinities" } as const;

export class KubeIpamApi implements IpamApi {
  constructor(private readonly client: KubeClient) {}

  private path(plural: string, name?: string): string {
    return resourcePath({
      group: IPAM_GROUP,
      version: IPAM_VERSION,
      plural,
      ...(name !== undefined ? { name } : {}),
    });
  }

  private async list<T>(plural: string): Promise<T[]> {
    const r = await this.client.get<{ items?: T[] }>(this.path(plural));
    return r.items ?? [];
  }

  private async get<T>(plural: string, name: string): Promise<T | undefined> {
    try {
      return await this.client.get<T>(this.path(plural, name));
    } catch (e) {
      if (httpStatus(e) === 404) return undefined;
      throw e;
    }
  }

  private async create<T>(plural: string, body: T): Promise<T | "exists"> {
    try {
      return await this.client.create<T>(this.path(plural), body);
    } catch (e) {
      if (httpStatus(e) === 409) return "exists";
      throw e;
    }
  }

  /** PUT with the body's resourceVersion: the API server answers 409 when the object moved on (the CAS). */
  private async replace<T extends { metadata: { name: string } }>(
    plural: string,
    body: T,
  ): Promise<T | "conflict" | "gone"> {
    try {
      return await this.client.replace<T>(this.path(plural, body.metadata.name), body);
    } catch (e) {
      const s = httpStatus(e);
      if (s === 409) return "conflict";
      if (s === 404) return "gone";
      throw e;
    }
  }

  private async delete(
    plural: string,
    name: string,
    resourceVersion?: string,
  ): Promise<"ok" | "conflict" | "gone"> {
    try {
      await this.client.delete(
        this.path(plural, name),
        resourceVersion !== undefined ? { preconditions: { resourceVersion } } : undefined,
      );
      return "ok";
    } catch (e) {
      const s = httpStatus(e);
      if (s === 404) return "gone";
      if (s === 409) return "conflict";
      throw e;
    }
  }

  listPools(): Promise<IPPool[]> {
    return this.list(PLURAL.pool);
  }
  listBlocks(): Promise<IPAMBlock[]> {
    return this.list(PLURAL.block);
  }
  listAffinities(): Promise<BlockAffinity[]> {
    return this.list(PLURAL.affinity);
  }
  getBlock(name: string): Promise<IPAMBlock | undefined> {
    return this.get(PLURAL.block, name);
  }
  createBlock(b: IPAMBlock): Promise<IPAMBlock | "exists"> {
    return this.create(PLURAL.block, { apiVersion: IPAM_API_VERSION, kind: "IPAMBlock", ...b });
  }
  replaceBlock(b: IPAMBlock): Promise<IPAMBlock | "conflict" | "gone"> {
    return this.replace(PLURAL.block, { apiVersion: IPAM_API_VERSION, kind: "IPAMBlock", ...b });
  }
  deleteBlock(name: string, resourceVersion: string | undefined): Promise<"ok" | "conflict" | "gone"> {
    return this.delete(PLURAL.block, name, resourceVersion);
  }
  getAffinity(name: string): Promise<BlockAffinity | undefined> {
    return this.get(PLURAL.affinity, name);
  }
  createAffinity(a: BlockAffinity): Promise<BlockAffinity | "exists"> {
    return this.create(PLURAL.affinity, { apiVersion: IPAM_API_VERSION, kind: "BlockAffinity", ...a });
  }
  replaceAffinity(a: BlockAffinity): Promise<BlockAffinity | "conflict" | "gone"> {
    return this.replace(PLURAL.affinity, { apiVersion: IPAM_API_VERSION, kind: "BlockAffinity", ...a });
  }
  async deleteAffinity(name: string): Promise<void> {
    await this.delete(PLURAL.affinity, name);
  }
}
