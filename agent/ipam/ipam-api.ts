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

/**
 * One kind's objects over the API. Every update is a compare-and-swap:
 * `replace` sends the resourceVersion the object was read at, `delete` a
 * resourceVersion precondition when given.
 */
export interface IpamObjects<T> {
  list(): Promise<T[]>;
  get(name: string): Promise<T | undefined>;
  create(obj: T): Promise<T | "exists">;
  replace(obj: T): Promise<T | "conflict" | "gone">;
  delete(name: string, resourceVersion?: string): Promise<"ok" | "conflict" | "gone">;
}

export interface IpamApi {
  /** Pools are read only: an administrator writes them. */
  listPools(): Promise<IPPool[]>;
  readonly ipamBlocks: IpamObjects<IPAMBlock>;
  readonly blockAffinities: IpamObjects<BlockAffinity>;
}

/** A kind's objects through the agent's client (plural: the resource's name in its path). */
class KubeObjects<T extends { metadata: { name: string } }> implements IpamObjects<T> {
  constructor(
    private readonly client: KubeClient,
    private readonly plural: string,
    private readonly kind: string,
  ) {}

  private path(name?: string): string {
    return resourcePath({
      group: IPAM_GROUP,
      version: IPAM_VERSION,
      plural: this.plural,
      ...(name !== undefined ? { name } : {}),
    });
  }

  /** The body as the API server wants it: apiVersion and kind set. */
  private typed(obj: T): T {
    return { apiVersion: IPAM_API_VERSION, kind: this.kind, ...obj };
  }

  async list(): Promise<T[]> {
    const r = await this.client.get<{ items?: T[] }>(this.path());
    return r.items ?? [];
  }

  async get(name: string): Promise<T | undefined> {
    try {
      return await this.client.get<T>(this.path(name));
    } catch (e) {
      if (httpStatus(e) === 404) return undefined;
      throw e;
    }
  }

  async create(obj: T): Promise<T | "exists"> {
    try {
      return await this.client.create<T>(this.path(), this.typed(obj));
    } catch (e) {
      if (httpStatus(e) === 409) return "exists";
      throw e;
    }
  }

  /** PUT with the body's resourceVersion: the API server answers 409 when the object moved on (the CAS). */
  async replace(obj: T): Promise<T | "conflict" | "gone"> {
    try {
      return await this.client.replace<T>(this.path(obj.metadata.name), this.typed(obj));
    } catch (e) {
      const s = httpStatus(e);
      if (s === 409) return "conflict";
      if (s === 404) return "gone";
      throw e;
    }
  }

  async delete(name: string, resourceVersion?: string): Promise<"ok" | "conflict" | "gone"> {
    try {
      await this.client.delete(
        this.path(name),
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
}

export class KubeIpamApi implements IpamApi {
  private readonly pools: KubeObjects<IPPool>;
  readonly ipamBlocks: KubeObjects<IPAMBlock>;
  readonly blockAffinities: KubeObjects<BlockAffinity>;

  constructor(client: KubeClient) {
    this.pools = new KubeObjects(client, "ippools", "IPPool");
    this.ipamBlocks = new KubeObjects(client, "ipamblocks", "IPAMBlock");
    this.blockAffinities = new KubeObjects(client, "blockaffinities", "BlockAffinity");
  }

  listPools(): Promise<IPPool[]> {
    return this.pools.list();
  }
}
