/**
 * Where the agent's API server is and who the agent is to it, from a
 * kubeconfig file or from the pod's ServiceAccount (in-cluster). Only what
 * the agent's identities use is read: the current context's cluster
 * (`server`, `certificate-authority[-data]`, `insecure-skip-tls-verify`) and
 * user (`client-certificate[-data]` + `client-key[-data]`, `token`,
 * `tokenFile`). Anything else a user entry may name (exec plugins, auth
 * providers, basic auth) is refused by name rather than silently ignored.
 * Paths in a kubeconfig are relative to the file (kubectl's rule,
 * k8s.io/client-go tools/clientcmd loader.go ResolvePaths).
 *
 * Parsing is pure: files are read through the injected `read`.
 *
 * trellisctl loads kubeconfigs with @kubernetes/client-node instead (its
 * default search, exec plugins, auth providers); accessFromResolved turns
 * what that resolved into the same ClusterAccess.
 */
import { dirname, isAbsolute, join } from "node:path";
import { isIPv6 } from "node:net";
import { parse } from "yaml";

export interface ClusterAccess {
  /** Base URL, no trailing slash, e.g. "https://10.96.0.1:443". */
  server: string;
  /** PEM of the CA that signed the server's certificate (undefined: the system roots). */
  ca?: Buffer;
  /** Client certificate and key (PEM), both or neither. */
  cert?: Buffer;
  key?: Buffer;
  /** A bearer token fixed in the kubeconfig. */
  token?: string;
  /** A bearer token read from this file (re-read: ServiceAccount tokens rotate). */
  tokenFile?: string;
  /**
   * HTTP basic auth (kubeconfig `username`/`password`). Only the CLI's
   * client-node credentials carry it (accessFromResolved): the agent's own
   * kubeconfigs refuse it (parseKubeconfig).
   */
  basicAuth?: { username: string; password: string };
  /** Act as this user (kubeconfig `as`; the Impersonate-User header, api "User impersonation"). */
  impersonateUser?: string;
  insecureSkipTlsVerify: boolean;
}

export class KubeconfigError extends Error {
  readonly code = "TRELLIS_E_KUBECONFIG";
  constructor(message: string) {
    super(message);
    this.name = "KubeconfigError";
  }
}

type Read = (path: string) => Buffer;

function mapping(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function str(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new KubeconfigError(`${where}.${key}: must be a string`);
  return v;
}

/** The entry of `list` (clusters, users, contexts: `- name: X` + `kind: {...}`) named `name`. */
function named(doc: Record<string, unknown>, list: string, kind: string, name: string) {
  const items = doc[list];
  if (items === undefined || items === null) return undefined;
  if (!Array.isArray(items)) throw new KubeconfigError(`${list}: must be a list`);
  for (const item of items) {
    const m = mapping(item);
    if (m?.["name"] === name) return mapping(m[kind]) ?? {};
  }
  return undefined;
}

/** `X-data` (base64, embedded) wins over `X` (a path, relative to the kubeconfig's folder). */
function material(
  o: Record<string, unknown>,
  key: string,
  where: string,
  base: string,
  read: Read,
): Buffer | undefined {
  const data = str(o, `${key}-data`, where);
  if (data !== undefined) return Buffer.from(data, "base64");
  const path = str(o, key, where);
  if (path === undefined) return undefined;
  const full = isAbsolute(path) ? path : join(base, path);
  try {
    return read(full);
  } catch (e) {
    throw new KubeconfigError(`${where}.${key}: cannot read ${full}: ${(e as Error).message}`);
  }
}

const UNSUPPORTED_USER = ["exec", "auth-provider", "username", "password"] as const;

/**
 * A kubeconfig document (its text) → the access of its current context.
 * `file` names the file in every error.
 */
export function parseKubeconfig(text: string, file: string, read: Read): ClusterAccess {
  let doc: Record<string, unknown> | undefined;
  try {
    doc = mapping(parse(text));
  } catch (e) {
    throw new KubeconfigError(`${file}: not YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (doc === undefined) throw new KubeconfigError(`${file}: not a kubeconfig (empty or not a YAML mapping)`);
  const current = doc["current-context"];
  const ctx = typeof current === "string" ? named(doc, "contexts", "context", current) : undefined;
  const clusterName = ctx?.["cluster"];
  const cluster =
    typeof clusterName === "string" ? named(doc, "clusters", "cluster", clusterName) : undefined;
  const server = cluster !== undefined ? cluster["server"] : undefined;
  if (cluster === undefined || typeof server !== "string" || server === "")
    throw new KubeconfigError(
      `${file}: no cluster for the current context "${typeof current === "string" ? current : ""}"`,
    );
  const base = dirname(file);
  const cw = `${file}: cluster "${String(clusterName)}"`;
  const access: ClusterAccess = {
    server: server.replace(/\/+$/, ""),
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
  };
  const ca = material(cluster, "certificate-authority", cw, base, read);
  if (ca !== undefined) access.ca = ca;
  const userName = ctx?.["user"];
  const user = typeof userName === "string" ? (named(doc, "users", "user", userName) ?? {}) : {};
  const uw = `${file}: user "${String(userName)}"`;
  for (const k of UNSUPPORTED_USER)
    if (user[k] !== undefined)
      throw new KubeconfigError(
        `${uw}: "${k}" is not supported by trellis-node (use a client certificate, a token or tokenFile)`,
      );
  const cert = material(user, "client-certificate", uw, base, read);
  const key = material(user, "client-key", uw, base, read);
  if ((cert === undefined) !== (key === undefined))
    throw new KubeconfigError(`${uw}: client-certificate and client-key come together (one is missing)`);
  if (cert !== undefined && key !== undefined) {
    access.cert = cert;
    access.key = key;
  }
  // As client-go (tools/clientcmd client_config.go,
  // getUserIdentificationPartialConfig, and transport's
  // NewBearerAuthWithRefreshRoundTripper): an empty token is no token; with
  // a tokenFile beside a token, the file is re-read and its last good value
  // wins, the token standing in only until the file has been read once.
  const token = str(user, "token", uw);
  const tokenFile = str(user, "tokenFile", uw);
  if (token !== undefined && token !== "") access.token = token;
  if (tokenFile !== undefined && tokenFile !== "")
    access.tokenFile = isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile);
  return access;
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * In-cluster access (k8s.io/client-go rest.InClusterConfig): the API
 * server's Service from KUBERNETES_SERVICE_HOST/PORT, the ServiceAccount's
 * CA, and its token file (a bound token the kubelet rotates, so it is read
 * again, never cached for good).
 */
export function inClusterAccess(
  env: Record<string, string | undefined>,
  read: Read,
  dir = SERVICE_ACCOUNT_DIR,
): ClusterAccess {
  const host = env["KUBERNETES_SERVICE_HOST"];
  const port = env["KUBERNETES_SERVICE_PORT"];
  if (host === undefined || host === "" || port === undefined || port === "")
    throw new KubeconfigError(
      "no kubeconfig given and not in a cluster (KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT unset)",
    );
  let ca: Buffer;
  try {
    ca = read(join(dir, "ca.crt"));
  } catch (e) {
    throw new KubeconfigError(`in-cluster: cannot read the ServiceAccount CA: ${(e as Error).message}`);
  }
  return {
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    ca,
    tokenFile: join(dir, "token"),
    insecureSkipTlsVerify: false,
  };
}

/**
 * What @kubernetes/client-node resolved for a kubeconfig's current user
 * (KubeConfig.applyToHTTPSOptions fills these node:https request options:
 * PEMs, `auth` "user:password" for basic auth, and headers: Authorization
 * with the bearer token of a token, an exec plugin or an auth provider,
 * Impersonate-User for `as`). Structural, so agent/k8s needs no client-node.
 */
export interface ResolvedOptions {
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
  pfx?: unknown;
  auth?: string | null | undefined;
  headers?: unknown;
  servername?: string | undefined;
}

/**
 * client-node's resolved credentials → the agent client's access, for the
 * CLI, which loads kubeconfigs with client-node (its default search, exec
 * plugins, auth providers) and talks through KubeClient. Whatever the agent
 * client cannot carry is refused by name, never dropped: a request sent
 * without a credential or an impersonation would act as someone else.
 */
export function accessFromResolved(
  cluster: { server: string; skipTLSVerify: boolean; proxyUrl?: string },
  opts: ResolvedOptions,
): ClusterAccess {
  const refuse = (what: string): never => {
    throw new KubeconfigError(`${what} is not supported by the Trellis client`);
  };
  const pem = (v: unknown, what: string): Buffer | undefined => {
    if (v === undefined || v === null) return undefined;
    if (Buffer.isBuffer(v)) return v;
    if (typeof v === "string") return Buffer.from(v);
    return refuse(what);
  };
  if (opts.pfx !== undefined) refuse("a PKCS#12 (pfx) client certificate");
  if (opts.servername !== undefined) refuse("tls-server-name");
  // client-node puts a proxy into its own https agent, which we do not use:
  // refused rather than connected to directly behind the user's back.
  if (cluster.proxyUrl !== undefined && cluster.proxyUrl !== "") refuse("proxy-url");
  const access: ClusterAccess = {
    server: cluster.server.replace(/\/+$/, ""),
    insecureSkipTlsVerify: cluster.skipTLSVerify,
  };
  const ca = pem(opts.ca, "a certificate-authority that is not PEM");
  if (ca !== undefined) access.ca = ca;
  const cert = pem(opts.cert, "a client certificate that is not PEM");
  const key = pem(opts.key, "a client key that is not PEM");
  if ((cert === undefined) !== (key === undefined))
    throw new KubeconfigError("client-certificate and client-key come together (one is missing)");
  if (cert !== undefined && key !== undefined) {
    access.cert = cert;
    access.key = key;
  }
  for (const [name, value] of Object.entries(mapping(opts.headers) ?? {})) {
    const v = Array.isArray(value) && value.length === 1 ? (value[0] as unknown) : value;
    const lower = name.toLowerCase();
    if (lower === "authorization" && typeof v === "string" && v.startsWith("Bearer ")) {
      const token = v.slice("Bearer ".length);
      if (token !== "") access.token = token;
    } else if (lower === "impersonate-user" && typeof v === "string") access.impersonateUser = v;
    else refuse(`the request header "${name}"`);
  }
  if (opts.auth !== undefined && opts.auth !== null && opts.auth !== "") {
    // client-go allows one authentication method per user (clientcmd
    // validation.go, validateAuthInfo: "more than one authentication method").
    if (access.token !== undefined) refuse("basic auth (username/password) beside a bearer token");
    const colon = opts.auth.indexOf(":");
    access.basicAuth =
      colon < 0
        ? { username: opts.auth, password: "" }
        : { username: opts.auth.slice(0, colon), password: opts.auth.slice(colon + 1) };
  }
  return access;
}
