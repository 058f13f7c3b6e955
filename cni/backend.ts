// The contract between the CNI spec layer (this folder) and the agent that does
// the work. The handler (handler.ts) validates env and stdin, converts versions
// and shapes errors; a backend receives only validated, typed requests and
// answers with the canonical result (result.ts) or throws a CniError.
//
// Errors: throw `new CniError(code, msg, details)` (error.ts) with a spec code:
// e.g. 7 for a config value the backend rejects, 11 when busy/not synced yet,
// 3 for CHECK on an unknown container, 50/51 from status(). Anything else
// thrown becomes code 999 "internal error: ...".
import type { CniResult } from "./result.js";
import type { Attachment, TrellisNetConf } from "./netconf.js";
import type { CniVersion } from "./versions.js";

export type { CniResult } from "./result.js";
export { CniError, CniCode } from "./error.js";

export type CniCommand = "ADD" | "DEL" | "CHECK" | "VERSION" | "STATUS" | "GC";

/** The Kubernetes keys of CNI_ARGS (set by the kubelet / CRI runtimes). */
export interface K8sArgs {
  podNamespace?: string;
  podName?: string;
  podInfraContainerId?: string;
  podUid?: string;
}

/** Parsed CNI_ARGS. `pairs` holds every key=value in order of appearance. */
export interface CniArgs {
  k8s: K8sArgs;
  pairs: Record<string, string>;
}

/** What every request carries. */
export interface RequestContext {
  /** The version the exchange runs at (from `cniVersion`, or the highest of `cniVersions`). */
  cniVersion: CniVersion;
  /** The validated plugin configuration (stdin). */
  config: TrellisNetConf;
  /** CNI_PATH split on ':' (empty for commands that did not set it). */
  path: string[];
  /** The CNI_* environment as received, for delegation (ipam-delegate.ts). */
  env: Readonly<Record<string, string>>;
  /** The raw stdin bytes as received, for delegation (IPAM plugins read the same config). */
  stdin: Buffer;
}

/** ADD, DEL and CHECK name one attachment: (containerID, ifname) in a netns. */
export interface AttachmentRequest extends RequestContext {
  containerID: string;
  /** Netns path; may be "" for DEL (SPEC.md: CNI_NETNS is optional for DEL). */
  netns: string;
  ifname: string;
  args: CniArgs;
  /** The previous plugin's result in a chain (canonical form), if any. */
  prevResult?: CniResult;
}

/**
 * ADD: prevResult is absent when trellis is first in the chain (the normal
 * case) and present when chained after another plugin.
 */
export type AddRequest = AttachmentRequest;

/** DEL must be idempotent: a missing netns, link or allocation is success. */
export type DelRequest = AttachmentRequest;

/** CHECK (0.4.0+): the handler guarantees prevResult (the runtime's cached ADD result). */
export interface CheckRequest extends AttachmentRequest {
  prevResult: CniResult;
}

/** GC (1.1.0): release everything not in validAttachments. */
export interface GcRequest extends RequestContext {
  validAttachments: Attachment[];
}

/** STATUS (1.1.0): resolve when ready to serve ADD; throw CniError 50/51 (or 11) when not. */
export type StatusRequest = RequestContext;

/** Implemented by the agent (and by in-memory test doubles in the spec tests). */
export interface CniBackend {
  add(req: AddRequest): Promise<CniResult>;
  del(req: DelRequest): Promise<void>;
  check(req: CheckRequest): Promise<void>;
  gc(req: GcRequest): Promise<void>;
  status(req: StatusRequest): Promise<void>;
}
