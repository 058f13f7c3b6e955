/**
 * The Kubernetes API as the agent speaks it, without I/O: request paths and
 * query strings, the error a non-2xx answer becomes, and the watch stream's
 * framing. kube-client.ts does the sockets.
 *
 * Paths follow the API conventions
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris):
 * `/api/v1/...` for the core group, `/apis/GROUP/VERSION/...` otherwise,
 * `namespaces/NS/` before the plural for a namespaced object.
 */
import type { ClusterAccess } from "./kubeconfig.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** PATCH flavours (api-concepts "Patch operations"): RFC 7386 merge patch, RFC 6902 JSON patch. */
export const PATCH_CONTENT_TYPE = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
} as const;
export type PatchType = keyof typeof PATCH_CONTENT_TYPE;

export type Query = Record<string, string | number | boolean | undefined>;

export interface KubeRequest {
  method: Method;
  path: string;
  query?: Query;
  body?: unknown;
  /** Default application/json (for a body). */
  contentType?: string;
}

export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  /** "status" for the status subresource. */
  subresource?: string;
}

/** The path of a collection or an object. */
export function resourcePath(r: ResourceRef): string {
  const root = r.group === "" ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const ns = r.namespace !== undefined ? `/namespaces/${encodeURIComponent(r.namespace)}` : "";
  const name = r.name !== undefined ? `/${encodeURIComponent(r.name)}` : "";
  const sub = r.subresource !== undefined && r.name !== undefined ? `/${r.subresource}` : "";
  return `${root}${ns}/${r.plural}${name}${sub}`;
}

/** `path?query` with undefined values left out. */
export function pathWithQuery(path: string, query: Query | undefined): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s === "" ? path : `${path}?${s}`;
}

/** The body's bytes and headers (JSON unless told otherwise). */
export function encodeBody(r: KubeRequest): { bytes?: Buffer; headers: Record<string, string> } {
  const headers: Record<string, string> = { accept: "application/json" };
  if (r.body === undefined) return { headers };
  const bytes = Buffer.from(JSON.stringify(r.body));
  headers["content-type"] = r.contentType ?? "application/json";
  headers["content-length"] = String(bytes.length);
  return { bytes, headers };
}

/**
 * Who a request is from: the bearer token (read by the client, it may come
 * from a file), else basic auth; and whom it acts as (Impersonate-User,
 * api "User impersonation").
 */
export function credentialHeaders(
  access: Pick<ClusterAccess, "basicAuth" | "impersonateUser">,
  bearer: string | undefined,
): Record<string, string> {
  const h: Record<string, string> = {};
  if (bearer !== undefined) h["authorization"] = `Bearer ${bearer}`;
  else if (access.basicAuth !== undefined) {
    const { username, password } = access.basicAuth;
    h["authorization"] = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  }
  if (access.impersonateUser !== undefined) h["impersonate-user"] = access.impersonateUser;
  return h;
}

/** A metav1.Status, as the API server sends it with every error. */
export interface ApiStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: unknown;
}

/**
 * A non-2xx answer. `code` (and `statusCode`, the name watch errors used)
 * is the HTTP status, `body` the server's Status when it sent one (else its
 * text), so callers tell 404/409/410 and refusals (api-refusal.ts) apart.
 */
export class KubeApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: number,
    readonly method: Method,
    readonly path: string,
    readonly body: ApiStatus | string,
  ) {
    const said = typeof body === "string" ? body.trim().slice(0, 200) : (body.message ?? body.reason ?? "");
    super(`${method} ${path}: HTTP ${code}${said !== "" ? `: ${said}` : ""}`);
    this.statusCode = code;
    this.name = "KubeApiError";
  }
}

/** The HTTP status of an API error (KubeApiError.code; `statusCode` on watch errors), if any. */
export function httpStatus(e: unknown): number | undefined {
  if (typeof e === "object" && e !== null) {
    const c =
      (e as { code?: unknown; statusCode?: unknown }).code ?? (e as { statusCode?: unknown }).statusCode;
    if (typeof c === "number") return c;
  }
  return undefined;
}

/** The decoded answer to `req`: its JSON on 2xx, else a KubeApiError carrying the Status. */
export function decodeResponse(req: KubeRequest, status: number, text: string): unknown {
  let parsed: unknown;
  let json = false;
  if (text !== "") {
    try {
      parsed = JSON.parse(text);
      json = true;
    } catch {
      parsed = undefined;
    }
  }
  if (status >= 200 && status < 300) {
    if (!json && text !== "")
      throw new Error(`${req.method} ${req.path}: HTTP ${status} with a body that is not JSON`);
    return parsed;
  }
  const body =
    json && typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as ApiStatus)
      : text;
  throw new KubeApiError(status, req.method, req.path, body);
}

/** One line of a watch stream (api-concepts "Efficient detection of changes"). */
export interface WatchEvent {
  type: string;
  object: unknown;
}

/**
 * A watch line that is not an event: the watch must end (client-go's
 * StreamWatcher stops on a decode error), since skipping it could lose a
 * DELETED or MODIFIED and leave the cache wrong until some later relist.
 * `events` are the ones decoded before it, still to be delivered.
 */
export class WatchDecodeError extends Error {
  constructor(
    line: string,
    readonly events: WatchEvent[],
  ) {
    super(`watch line is not an event: ${JSON.stringify(line.slice(0, 120))}`);
    this.name = "WatchDecodeError";
  }
}

/**
 * Splits a watch response into its events: one JSON object per line, a
 * line may span chunks. A line that is not an event throws WatchDecodeError.
 * `maxLineChars` bounds what one unterminated line may hold.
 */
export class WatchDecoder {
  private partial = "";

  constructor(private readonly maxLineChars = 64 * 1024 * 1024) {}

  push(chunk: string): WatchEvent[] {
    const out: WatchEvent[] = [];
    let text = this.partial + chunk;
    let nl = text.indexOf("\n");
    while (nl >= 0) {
      const line = text.slice(0, nl).trim();
      text = text.slice(nl + 1);
      if (line !== "") {
        const ev = decodeEvent(line);
        if (ev === undefined) {
          this.partial = "";
          throw new WatchDecodeError(line, out);
        }
        out.push(ev);
      }
      nl = text.indexOf("\n");
    }
    if (text.length > this.maxLineChars)
      throw new Error(`watch line longer than ${this.maxLineChars} characters without a newline`);
    this.partial = text;
    return out;
  }

  /** What is left when the stream ends (a last line without its newline). */
  end(): WatchEvent[] {
    const rest = this.partial.trim();
    this.partial = "";
    if (rest === "") return [];
    const ev = decodeEvent(rest);
    if (ev === undefined) throw new WatchDecodeError(rest, []);
    return [ev];
  }
}

function decodeEvent(line: string): WatchEvent | undefined {
  try {
    const v = JSON.parse(line) as { type?: unknown; object?: unknown } | null;
    if (typeof v?.type !== "string") return undefined;
    return { type: v.type, object: v.object };
  } catch {
    return undefined;
  }
}
