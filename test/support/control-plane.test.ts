/** The tests' choice of control plane (control-plane.ts testControlPlaneMode): one row per rule. */
import { describe, expect, it } from "@jest/globals";
import { testControlPlaneMode } from "./control-plane.js";

describe("testControlPlaneMode", () => {
  it.each([
    [undefined, true, "real"],
    [undefined, false, "embedded"],
    ["", true, "real"],
    ["embedded", true, "embedded"],
    ["embedded", false, "embedded"],
    ["real", true, "real"],
  ] as const)("TRELLIS_TEST_CONTROL_PLANE=%s, built=%s: %s", (env, built, mode) => {
    expect(testControlPlaneMode(env, built)).toBe(mode);
  });

  it("refuses real when it is not built, naming the script that builds it", () => {
    expect(() => testControlPlaneMode("real", false)).toThrow(/not built \(run scripts\/build-k8s\)/);
  });

  it("refuses any other value, quoting it", () => {
    expect(() => testControlPlaneMode("kind", true)).toThrow(/must be "embedded" or "real", not "kind"/);
  });
});
