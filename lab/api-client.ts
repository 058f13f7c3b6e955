/**
 * The few API calls the lab CLI makes (create a Node, read pods and nodes),
 * as plain HTTP against the lab API server's URL. The kubelet stand-in uses
 * @kubernetes/client-node like a real component; the CLI only needs JSON.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
}

export interface PodObject {
  metadata?: ObjectMeta;
  spec?: {
    nodeName?: string;
    hostNetwork?: boolean;
    containers?: { name: string; ports?: { containerPort: number; protocol?: string; name?: string }[] }[];
  };
  status?: { phase?: string; podIP?: string; podIPs?: { ip: string }[]; message?: string };
}

export interface NodeObject {
  metadata?: ObjectMeta;
  status?: {
    conditions?: { type: string; status: string }[];
    addresses?: { type: string; address: string }[];
  };
}

export class LabApi {
  constructor(
    readonly baseUrl: string,
    readonly timeoutMs = 5000,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: body !== undefined ? { "content-type": "application/json" } : {},
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new ApiError(0, `API server ${this.baseUrl} unreachable: ${(e as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) {
      let msg = text;
      try {
        msg = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // not a Status object
      }
      throw new ApiError(res.status, `${method} ${path}: ${res.status} ${msg}`);
    }
    return JSON.parse(text) as T;
  }

  listPods(): Promise<{ items: PodObject[] }> {
    return this.request("GET", "/api/v1/pods");
  }

  getPod(namespace: string, name: string): Promise<PodObject> {
    return this.request(
      "GET",
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`,
    );
  }

  listNodes(): Promise<{ items: NodeObject[] }> {
    return this.request("GET", "/api/v1/nodes");
  }

  createNode(node: unknown): Promise<NodeObject> {
    return this.request("POST", "/api/v1/nodes", node);
  }
}

export function nodeReady(n: NodeObject | undefined): boolean {
  return n?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
}
