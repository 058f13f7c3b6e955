/**
 * API discovery documents, built from the registered resource types:
 * legacy discovery (/api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>, in
 * meta/v1 APIVersions/APIGroupList/APIGroup/APIResourceList) and aggregated
 * discovery (apidiscovery.k8s.io/v2 APIGroupDiscoveryList, KEP-3352), which
 * kubectl ≥1.30 asks for first and which saves it one request per group.
 */
import { createHash } from "node:crypto";
import type { ResourceType } from "./resource-types.js";
import { apiVersionOf } from "./resource-types.js";
import { sortVersions } from "./crd.js";

export const AGGREGATED_V2_CONTENT_TYPE =
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const SUB_VERBS = ["get", "patch", "update"];

export function versionInfo(): Record<string, string> {
  return {
    major: "1",
    minor: "32",
    gitVersion: "v1.32.0-trellis-lab",
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2026-01-01T00:00:00Z",
    goVersion: "n/a",
    compiler: "trellis",
    platform: "linux/amd64",
  };
}

function storageVersionHash(t: ResourceType): string {
  return createHash("sha256")
    .update(`${t.group}/${t.storageVersion}/${t.kind}`)
    .digest("base64")
    .slice(0, 11);
}

/** Groups in discovery order: core first, then built-in groups, then custom groups, each with versions by priority. */
export function groupsOf(types: Iterable<ResourceType>): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const t of types) {
    const vs = groups.get(t.group) ?? [];
    for (const v of t.versions) if (!vs.includes(v)) vs.push(v);
    groups.set(t.group, vs);
  }
  // Within a group, versions by Kubernetes priority (GA > beta > alpha): the first is preferred.
  for (const [g, vs] of groups) groups.set(g, sortVersions(vs));
  return groups;
}

export function apiVersions(serverAddress: string): unknown {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function apiGroup(name: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

export function apiGroupList(types: Iterable<ResourceType>): unknown {
  const groups = [...groupsOf(types)].filter(([g]) => g !== "");
  return { kind: "APIGroupList", apiVersion: "v1", groups: groups.map(([g, vs]) => apiGroup(g, vs)) };
}

export function apiGroupDoc(group: string, types: Iterable<ResourceType>): unknown | undefined {
  const vs = groupsOf(types).get(group);
  if (vs === undefined || group === "") return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...apiGroup(group, vs) };
}

export function apiResourceList(
  group: string,
  version: string,
  types: Iterable<ResourceType>,
): unknown | undefined {
  const resources: unknown[] = [];
  let found = false;
  for (const t of types) {
    if (t.group !== group || !t.versions.includes(version)) continue;
    found = true;
    const r: Record<string, unknown> = {
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: VERBS,
      storageVersionHash: storageVersionHash(t),
    };
    if (t.shortNames.length > 0) r.shortNames = t.shortNames;
    if (t.categories.length > 0) r.categories = t.categories;
    resources.push(r);
    if (t.statusSubresource)
      resources.push({
        name: `${t.plural}/status`,
        singularName: "",
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: SUB_VERBS,
      });
  }
  if (!found) return undefined;
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: apiVersionOf(group, version), resources };
}

/** apidiscovery.k8s.io/v2 for either the core group (`legacy`) or all named groups. */
export function aggregatedDiscovery(types: Iterable<ResourceType>, legacy: boolean): unknown {
  const all = [...types];
  const items: unknown[] = [];
  for (const [group, versions] of groupsOf(all)) {
    if ((group === "") !== legacy) continue;
    items.push({
      metadata: { name: group, creationTimestamp: null },
      versions: versions.map((version) => ({
        version,
        freshness: "Current",
        resources: all
          .filter((t) => t.group === group && t.versions.includes(version))
          .map((t) => {
            const r: Record<string, unknown> = {
              resource: t.plural,
              responseKind: { group, version, kind: t.kind },
              scope: t.namespaced ? "Namespaced" : "Cluster",
              singularResource: t.singular,
              verbs: VERBS,
            };
            if (t.shortNames.length > 0) r.shortNames = t.shortNames;
            if (t.categories.length > 0) r.categories = t.categories;
            if (t.statusSubresource)
              r.subresources = [
                { subresource: "status", responseKind: { group, version, kind: t.kind }, verbs: SUB_VERBS },
              ];
            return r;
          }),
      })),
    });
  }
  return { kind: "APIGroupDiscoveryList", apiVersion: "apidiscovery.k8s.io/v2", metadata: {}, items };
}

/** Parses an Accept header into media ranges with their parameters. */
export function mediaRanges(accept: string | undefined): { type: string; params: Map<string, string> }[] {
  if (accept === undefined || accept === "") return [];
  return accept.split(",").map((r) => {
    const [type, ...ps] = r.split(";").map((x) => x.trim());
    const params = new Map<string, string>();
    for (const p of ps) {
      const eq = p.indexOf("=");
      if (eq > 0) params.set(p.slice(0, eq).trim(), p.slice(eq + 1).trim());
    }
    return { type: (type ?? "").toLowerCase(), params };
  });
}

/** True when the Accept header asks for aggregated discovery v2. */
export function wantsAggregated(accept: string | undefined): boolean {
  return mediaRanges(accept).some(
    (m) =>
      m.params.get("g") === "apidiscovery.k8s.io" &&
      m.params.get("v") === "v2" &&
      m.params.get("as") === "APIGroupDiscoveryList",
  );
}
