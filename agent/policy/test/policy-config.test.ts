import { describe, it, expect } from "@jest/globals";
import { ConfigError, loadConfig } from "../../config.js";

const file = (text: string) => (): string => text;

describe("policy configuration", () => {
  it("enforces policy by default, with the documented defaults", () => {
    const c = loadConfig({ nodeName: "n1" }, {});
    expect(c.policy).toEqual({
      enabled: true,
      minApplyIntervalMs: 50,
      resyncIntervalSeconds: 60,
      revocationIntervalMs: 100,
      addTimeoutMs: 10_000,
      elementsByNetlink: true,
    });
  });

  it("policy.elementsByNetlink: false in the config file sends every transaction through nft", () => {
    const c = loadConfig(
      { nodeName: "n1", config: "c.yaml" },
      {},
      file("policy:\n  elementsByNetlink: false\n"),
    );
    expect(c.policy.elementsByNetlink).toBe(false);
  });

  it("policy.enabled: false in the config file turns enforcement off", () => {
    const c = loadConfig({ nodeName: "n1", config: "c.yaml" }, {}, file("policy:\n  enabled: false\n"));
    expect(c.policy.enabled).toBe(false);
    expect(c.policy.minApplyIntervalMs).toBe(50);
  });

  it("TRELLIS_POLICY_ENABLED overrides the file", () => {
    const c = loadConfig(
      { nodeName: "n1", config: "c.yaml" },
      { TRELLIS_POLICY_ENABLED: "false" },
      file("policy:\n  addTimeoutMs: 2000\n"),
    );
    expect(c.policy).toMatchObject({ enabled: false, addTimeoutMs: 2000 });
  });

  it.each([
    ["policy:\n  enabled: maybe\n", /policy\.enabled/],
    ["policy:\n  addTimeoutMs: 5\n", /policy\.addTimeoutMs/],
    ["policy:\n  elementsByNetlink: 1\n", /policy\.elementsByNetlink/],
    ["policy:\n  colour: red\n", /policy/],
  ])("rejects %j naming the field", (text, re) => {
    expect(() => loadConfig({ nodeName: "n1", config: "c.yaml" }, {}, file(text))).toThrow(ConfigError);
    expect(() => loadConfig({ nodeName: "n1", config: "c.yaml" }, {}, file(text))).toThrow(re);
  });
});
