import { describe, expect, it } from "@jest/globals";
import { loadConfig } from "../../config.js";

const file = (text: string) => (): string => text;

describe("agent config: serviceClusterIPRanges (natOutgoing never translates to them)", () => {
  it("defaults to empty", () => {
    expect(loadConfig({ nodeName: "n1" }, {}).serviceClusterIPRanges).toEqual([]);
  });

  it("takes CIDRs of both families from the config file", () => {
    const c = loadConfig(
      { nodeName: "n1", config: "/c" },
      {},
      file("serviceClusterIPRanges: [10.96.0.0/12, 'fd00:96::/112']\n"),
    );
    expect(c.serviceClusterIPRanges).toEqual(["10.96.0.0/12", "fd00:96::/112"]);
  });

  it.each([
    [
      "host bits set",
      "serviceClusterIPRanges: [10.96.0.1/12]\n",
      /serviceClusterIPRanges\.0 \(from config file \/c\): .*host bits/,
    ],
    [
      "not a CIDR",
      "serviceClusterIPRanges: [10.96.0.0/12, nope]\n",
      /serviceClusterIPRanges\.1 \(from config file \/c\)/,
    ],
    [
      "not a list",
      "serviceClusterIPRanges: 10.96.0.0/12\n",
      /serviceClusterIPRanges \(from config file \/c\)/,
    ],
  ])("rejects %s, naming the entry", (_what, text, msg) => {
    expect(() => loadConfig({ nodeName: "n1", config: "/c" }, {}, file(text))).toThrow(msg);
  });
});
