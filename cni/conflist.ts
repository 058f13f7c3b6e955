// The runtime's side of a conflist, as libcni does it (SPEC.md section 3
// "Execution of Network Configurations"): pick the version, then build each
// plugin's stdin by injecting `name`, `cniVersion`, the capability-filtered
// `runtimeConfig` and the previous plugin's result as `prevResult`. Used by the
// lab's kubelet stand-in, the benchmarks and the tests that act as a runtime.
import { CniCode, CniError } from "./error.js";
import type { ConfList } from "./netconf.js";
import { highestSupported, isSupportedVersion, SUPPORTED_VERSIONS, type CniVersion } from "./versions.js";

/** The version a runtime speaking our versions uses for this list. */
export function confListVersion(list: ConfList): CniVersion {
  // 1.1.0: `cniVersions` lists every version the config works with; use the
  // highest one both sides support. Otherwise `cniVersion`.
  if (list.cniVersions !== undefined) {
    const best = highestSupported(list.cniVersions);
    if (best !== undefined) return best;
  }
  if (list.cniVersion !== undefined && isSupportedVersion(list.cniVersion)) return list.cniVersion;
  throw new CniError(
    CniCode.IncompatibleVersion,
    `incompatible CNI versions: conflist ${list.name} asks for ${JSON.stringify(list.cniVersions ?? list.cniVersion ?? null)}`,
    `runtime supports ${JSON.stringify(SUPPORTED_VERSIONS)}`,
  );
}

export interface PluginStdinOptions {
  version?: string;
  /** Runtime-supplied capability arguments (e.g. portMappings, ips, mac). */
  runtimeConfig?: Record<string, unknown>;
  /** The previous plugin's result, already in `version`. */
  prevResult?: Record<string, unknown>;
  /** GC: the attachments the runtime still holds. */
  validAttachments?: Array<{ containerID: string; ifname: string }>;
}

/** The stdin JSON for plugin `index` of the list. */
export function pluginStdin(
  list: ConfList,
  index: number,
  opts: PluginStdinOptions = {},
): Record<string, unknown> {
  const plugin = list.plugins[index];
  if (plugin === undefined) throw new RangeError(`conflist ${list.name} has no plugin ${index}`);
  const out: Record<string, unknown> = { ...plugin };
  out.cniVersion = opts.version ?? confListVersion(list);
  out.name = list.name;
  // Only capabilities the plugin declares reach it (CONVENTIONS.md).
  const caps = (plugin.capabilities ?? {}) as Record<string, unknown>;
  const rc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts.runtimeConfig ?? {})) if (caps[k] === true) rc[k] = v;
  if (Object.keys(rc).length > 0) out.runtimeConfig = rc;
  else delete out.runtimeConfig;
  if (opts.prevResult !== undefined) out.prevResult = opts.prevResult;
  if (opts.validAttachments !== undefined) out["cni.dev/valid-attachments"] = opts.validAttachments;
  return out;
}
