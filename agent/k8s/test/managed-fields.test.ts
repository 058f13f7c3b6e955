// The informer edge drops metadata.managedFields (resilient-informer.ts
// dropManagedFields) and nothing else: the caches keep every field the
// agent reads, without server-side apply's bookkeeping.
import { describe, expect, it } from "@jest/globals";
import { dropManagedFields } from "../resilient-informer.js";

describe("dropManagedFields", () => {
  it("removes metadata.managedFields and keeps the rest of the object", () => {
    const kept = () => ({
      metadata: {
        name: "web-0",
        namespace: "team-a",
        labels: { app: "web" },
        annotations: { "trellis.dev/ipv4pools": "p" },
        resourceVersion: "42",
      },
      spec: { nodeName: "node-1" },
      status: { podIPs: [{ ip: "10.0.0.5" }] },
    });
    const pod = kept();
    const managed = [{ manager: "kubelet", operation: "Update", fieldsV1: { "f:status": {} } }];
    Object.assign(pod.metadata, { managedFields: managed });
    dropManagedFields(pod);
    expect(pod).toEqual(kept());
  });

  it.each([null, undefined, 7, "x", {}, { metadata: null }, { metadata: { name: "n" } }])(
    "leaves %p as it is",
    (x) => {
      const before = JSON.stringify(x);
      dropManagedFields(x);
      expect(JSON.stringify(x)).toBe(before);
    },
  );
});
