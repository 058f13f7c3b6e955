import { describe, expect, it } from "@jest/globals";
import { IFNAME_MAX, labPrefix, podNetnsName, torIfname } from "../lab-names.js";

describe("lab names", () => {
  it("derives a tl<4 hex>- prefix from the lab dir, stable and distinct per dir", () => {
    const a = labPrefix("/tmp/lab-a");
    expect(a).toMatch(/^tl[0-9a-f]{4}-$/);
    expect(labPrefix("/tmp/lab-a")).toBe(a);
    expect(labPrefix("/tmp/lab-b")).not.toBe(a);
  });

  it("names pod namespaces from the pod uid, under the lab prefix", () => {
    const n = podNetnsName("tl1234-", "0b5c1f0e-6c11-4a4e-9c52-1c9b4a7f5a11");
    expect(n).toMatch(/^tl1234-p-[0-9a-f]{10}$/);
    expect(podNetnsName("tl1234-", "other-uid")).not.toBe(n);
  });

  it("keeps ToR interface names within 15 bytes", () => {
    expect(torIfname(254).length).toBeLessThanOrEqual(IFNAME_MAX);
  });
});
