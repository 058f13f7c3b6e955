/**
 * TrellisNodeStatus over the Kubernetes API (the agent's KubeClient):
 * create the object, set its owner (the Node), replace its status through
 * the status subresource. Every write is a compare-and-swap on
 * resourceVersion; 409 and 404 come back as values, never as exceptions.
 */
import type { V1OwnerReference } from "@kubernetes/client-node";
import type { KubeClient } from "../k8s/kube-client.js";
import { resourcePath } from "../k8s/kube-request.js";
import {
  NODE_STATUS_API_VERSION,
  NODE_STATUS_GROUP,
  NODE_STATUS_KIND,
  NODE_STATUS_PLURAL,
  NODE_STATUS_VERSION,
  type NodeStatusBody,
} from "../../crds/node-status.js";
import { httpStatus } from "../k8s/kube-request.js";

export interface NodeOwner {
  name: string;
  uid: string;
}

export interface StoredNodeStatus {
  resourceVersion: string;
  /** Whether its ownerReferences already name this Node uid. */
  ownedBy: string | undefined;
}

export interface NodeStatusApi {
  get(name: string): Promise<StoredNodeStatus | undefined>;
  create(name: string, owner: NodeOwner | undefined): Promise<StoredNodeStatus | "exists">;
  setOwner(name: string, resourceVersion: string, owner: NodeOwner): Promise<string | "conflict" | "gone">;
  replaceStatus(
    name: string,
    resourceVersion: string,
    status: NodeStatusBody,
  ): Promise<string | "conflict" | "gone">;
}

export function ownerReference(owner: NodeOwner): V1OwnerReference {
  return { apiVersion: "v1", kind: "Node", name: owner.name, uid: owner.uid };
}

interface Raw {
  metadata?: { resourceVersion?: string; ownerReferences?: { kind?: string; uid?: string }[] };
  status?: unknown;
}

function stored(o: Raw): StoredNodeStatus {
  const own = (o.metadata?.ownerReferences ?? []).find((r) => r.kind === "Node");
  return { resourceVersion: o.metadata?.resourceVersion ?? "", ownedBy: own?.uid };
}

export class KubeNodeStatusApi implements NodeStatusApi {
  private readonly where = {
    group: NODE_STATUS_GROUP,
    version: NODE_STATUS_VERSION,
    plural: NODE_STATUS_PLURAL,
  };

  constructor(private readonly client: KubeClient) {}

  async get(name: string): Promise<StoredNodeStatus | undefined> {
    try {
      return stored(await this.client.get<Raw>(resourcePath({ ...this.where, name })));
    } catch (e) {
      if (httpStatus(e) === 404) return undefined;
      throw e;
    }
  }

  async create(name: string, owner: NodeOwner | undefined): Promise<StoredNodeStatus | "exists"> {
    const body = envelope({
      name,
      ...(owner !== undefined ? { ownerReferences: [ownerReference(owner)] } : {}),
    });
    try {
      return stored(await this.client.create<Raw>(resourcePath(this.where), body));
    } catch (e) {
      if (httpStatus(e) === 409) return "exists";
      throw e;
    }
  }

  async setOwner(
    name: string,
    resourceVersion: string,
    owner: NodeOwner,
  ): Promise<string | "conflict" | "gone"> {
    const body = envelope({ name, resourceVersion, ownerReferences: [ownerReference(owner)] });
    return this.cas(() => this.client.replace(resourcePath({ ...this.where, name }), body));
  }

  async replaceStatus(
    name: string,
    resourceVersion: string,
    status: NodeStatusBody,
  ): Promise<string | "conflict" | "gone"> {
    const body = { ...envelope({ name, resourceVersion }), status };
    return this.cas(() =>
      this.client.replace(resourcePath({ ...this.where, name, subresource: "status" }), body),
    );
  }

  private async cas(f: () => Promise<unknown>): Promise<string | "conflict" | "gone"> {
    try {
      return stored((await f()) as Raw).resourceVersion;
    } catch (e) {
      const code = httpStatus(e);
      if (code === 409) return "conflict";
      if (code === 404) return "gone";
      throw e;
    }
  }
}

/** A NodeStatus object with `metadata`, as the API server takes it in a body. */
function envelope(metadata: Record<string, unknown>): { apiVersion: string; kind: string; metadata: object } {
  return { apiVersion: NODE_STATUS_API_VERSION, kind: NODE_STATUS_KIND, metadata };
}
