// CNI_ARGS: "Extra arguments passed in by the user at invocation time.
// Alphanumeric key-value pairs separated by semicolons" (SPEC.md section 2).
// Semantics follow libcni's types.LoadArgs: an unknown key is an error unless
// `IgnoreUnknown` is true ("1"/"true", case-insensitive). Kubernetes runtimes
// send IgnoreUnknown=1 with the K8S_POD_* keys.
import type { CniArgs, K8sArgs } from "./backend.js";
import { CniCode, CniError } from "./error.js";

const K8S_KEYS: Record<string, keyof K8sArgs> = {
  K8S_POD_NAMESPACE: "podNamespace",
  K8S_POD_NAME: "podName",
  K8S_POD_INFRA_CONTAINER_ID: "podInfraContainerId",
  K8S_POD_UID: "podUid",
};
const KNOWN = new Set(["IgnoreUnknown", ...Object.keys(K8S_KEYS)]);

function parseBool(key: string, v: string): boolean {
  const l = v.toLowerCase();
  if (l === "1" || l === "true") return true;
  if (l === "0" || l === "false") return false;
  throw new CniError(
    CniCode.InvalidEnvironment,
    `CNI_ARGS: ${key} must be 1, 0, true or false, got ${JSON.stringify(v)}`,
  );
}

/** Parse CNI_ARGS. Errors: CniError 4 naming CNI_ARGS and the offending pair. */
export function parseCniArgs(raw: string | undefined): CniArgs {
  const pairs: Record<string, string> = {};
  const k8s: K8sArgs = {};
  if (raw === undefined || raw === "") return { k8s, pairs };
  for (const part of raw.split(";")) {
    if (part === "") continue; // tolerate "a=b;" and ";;"
    const eq = part.indexOf("=");
    if (eq <= 0) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `CNI_ARGS: invalid pair ${JSON.stringify(part)} (expected KEY=VALUE)`,
      );
    }
    pairs[part.slice(0, eq)] = part.slice(eq + 1);
  }
  const ignoreUnknown = pairs.IgnoreUnknown !== undefined && parseBool("IgnoreUnknown", pairs.IgnoreUnknown);
  for (const [k, v] of Object.entries(pairs)) {
    const field = K8S_KEYS[k];
    if (field !== undefined) k8s[field] = v;
    else if (!KNOWN.has(k) && !ignoreUnknown) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `CNI_ARGS: unknown key ${JSON.stringify(k)} (set IgnoreUnknown=1 to ignore it)`,
      );
    }
  }
  return { k8s, pairs };
}
