import { describe, it, expect } from "@jest/globals";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { tenantIsolationSchema, tenantSchema } from "../../crds/tenant.js";

const manifest = parse(
  readFileSync(
    fileURLToPath(new URL("../../../crds/manifests/tenants.trellis.dev.yaml", import.meta.url)),
    "utf8",
  ),
) as Record<string, unknown>;

describe("Tenant CRD", () => {
  it("is a cluster-scoped trellis.dev/v1alpha1 CRD named tenants.trellis.dev", () => {
    expect(manifest).toMatchObject({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "tenants.trellis.dev" },
      spec: { group: "trellis.dev", scope: "Cluster", names: { kind: "Tenant", plural: "tenants" } },
    });
    const v = (manifest["spec"] as { versions: { name: string; served: boolean; storage: boolean }[] })
      .versions;
    expect(v.map((x) => [x.name, x.served, x.storage])).toEqual([["v1alpha1", true, true]]);
  });

  it("has the same isolation values in its OpenAPI schema as the zod schema", () => {
    const spec = (
      manifest["spec"] as {
        versions: {
          schema: {
            openAPIV3Schema: {
              properties: { spec: { properties: Record<string, { enum?: string[] }>; required: string[] } };
            };
          };
        }[];
      }
    ).versions[0]?.schema.openAPIV3Schema.properties.spec;
    expect(spec?.properties["isolation"]?.enum).toEqual(tenantIsolationSchema.options);
    expect(spec?.required).toEqual(["namespaceSelector"]);
    expect(Object.keys(spec?.properties ?? {}).sort()).toEqual([
      "allow",
      "bgp",
      "ipPools",
      "isolation",
      "namespaceSelector",
    ]);
  });

  it("zod defaults isolation to Strict and rejects unknown fields in spec", () => {
    const base = { apiVersion: "trellis.dev/v1alpha1", kind: "Tenant", metadata: { name: "t" } };
    expect(tenantSchema.parse({ ...base, spec: { namespaceSelector: {} } }).spec.isolation).toBe("Strict");
    expect(
      tenantSchema.safeParse({ ...base, spec: { namespaceSelector: {}, isolate: "None" } }).success,
    ).toBe(false);
    expect(
      tenantSchema.safeParse({
        ...base,
        spec: {
          namespaceSelector: {},
          allow: {
            tenants: ["a"],
            namespaces: ["kube-system"],
            namespaceSelector: { matchLabels: { shared: "true" } },
          },
        },
      }).success,
    ).toBe(true);
  });
});
