/**
 * A minimal OpenAPI v3 document set (/openapi/v3 and /openapi/v3/<gv>).
 * kubectl does not need schemas from us, but it asks OpenAPI whether the
 * server supports the `fieldValidation` query parameter for a kind
 * (client-go resource.QueryParamVerifierV3: a PATCH operation tagged with
 * `x-kubernetes-group-version-kind` and a query parameter `fieldValidation`).
 * If it may not ask, `kubectl apply` fails unless the user passes
 * `--validate=false`; with this document kubectl leaves validation to the
 * server, which applies the CRD schemas itself. Custom resources' schemas
 * are included too (for `kubectl explain`); built-in schemas are not. Patch request bodies list no
 * strategic-merge type, so kubectl computes strategic patches from its
 * compiled-in types, as it does for servers without OpenAPI schemas.
 */
import { createHash } from "node:crypto";
import type { ResourceType } from "./resource-types.js";

function gvPath(group: string, version: string): string {
  return group === "" ? `api/${version}` : `apis/${group}/${version}`;
}

const PARAM = (name: string): Record<string, unknown> => ({
  name,
  in: "query",
  schema: { type: "string", uniqueItems: true },
});

export function openApiGroupVersion(
  group: string,
  version: string,
  typesIn: Iterable<ResourceType>,
): unknown | undefined {
  const types = [...typesIn]; // walked twice below; the caller may pass an iterator
  const paths: Record<string, unknown> = {};
  let found = false;
  for (const t of types) {
    if (t.group !== group || !t.versions.includes(version)) continue;
    found = true;
    const gvk = { group, version, kind: t.kind };
    const base = `/${gvPath(group, version)}${t.namespaced ? "/namespaces/{namespace}" : ""}/${t.plural}`;
    const op = (action: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      operationId: `${action}${t.kind}`,
      "x-kubernetes-action": action,
      "x-kubernetes-group-version-kind": gvk,
      parameters: [PARAM("dryRun"), PARAM("fieldManager"), PARAM("fieldValidation")],
      responses: { "200": { description: "OK" } },
      ...extra,
    });
    const patchBody = {
      requestBody: {
        content: {
          "application/json-patch+json": { schema: { type: "object" } },
          "application/merge-patch+json": { schema: { type: "object" } },
        },
        required: true,
      },
    };
    paths[base] = { get: op("list"), post: op("post") };
    paths[`${base}/{name}`] = {
      get: op("get"),
      put: op("put"),
      patch: op("patch", patchBody),
      delete: op("delete"),
    };
    if (t.statusSubresource)
      paths[`${base}/{name}/status`] = { get: op("get"), put: op("put"), patch: op("patch", patchBody) };
  }
  if (!found) return undefined;
  // Custom resources carry their structural schema, named as upstream
  // (reversed group, version, kind), so `kubectl explain` can read it.
  const schemas: Record<string, unknown> = {};
  for (const t of types) {
    const schema = t.group === group ? t.schemas?.get(version) : undefined;
    if (schema === undefined) continue;
    const name = `${group.split(".").reverse().join(".")}.${version}.${t.kind}`;
    schemas[name] = { ...schema, "x-kubernetes-group-version-kind": [{ group, version, kind: t.kind }] };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.32.0-trellis-lab" },
    paths,
    components: { schemas },
  };
}

export function openApiRoot(groupVersions: [string, string][], types: ResourceType[]): unknown {
  const paths: Record<string, unknown> = {};
  for (const [g, v] of groupVersions) {
    const doc = openApiGroupVersion(g, v, types);
    const hash = createHash("sha512").update(JSON.stringify(doc)).digest("hex").slice(0, 64).toUpperCase();
    paths[gvPath(g, v)] = { serverRelativeURL: `/openapi/v3/${gvPath(g, v)}?hash=${hash}` };
  }
  return { paths };
}
