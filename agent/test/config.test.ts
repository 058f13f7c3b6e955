import { describe, expect, it } from "@jest/globals";
import { ConfigError, loadConfig } from "../config.js";

const file = (text: string) => (): string => text;

describe("trellis-node configuration", () => {
  it("applies defaults", () => {
    const c = loadConfig({ nodeName: "n1" }, {});
    expect(c).toMatchObject({
      nodeName: "n1",
      cniSocket: "/var/run/trellis/cni.sock",
      logLevel: "info",
      metricsAddress: "127.0.0.1:9099",
      mtu: 1500,
      strictAffinity: false,
    });
  });

  it("takes file < env < flags", () => {
    const c = loadConfig(
      { config: "/etc/t.yaml", logLevel: "warn" },
      { TRELLIS_NODE_NAME: "from-env", TRELLIS_MTU: "1400", TRELLIS_LOG_LEVEL: "debug" },
      file("nodeName: from-file\nmtu: 9000\nlogLevel: error\nstrictAffinity: true\n"),
    );
    expect(c).toMatchObject({ nodeName: "from-env", mtu: 1400, logLevel: "warn", strictAffinity: true });
  });

  it.each([
    [{ nodeName: "Bad_Name" }, {}, undefined, /nodeName \(from --node-name\): must be a DNS-1123 subdomain/],
    [{ nodeName: "n" }, { TRELLIS_MTU: "12" }, undefined, /mtu \(from env TRELLIS_MTU\)/],
    [
      { nodeName: "n" },
      { TRELLIS_METRICS_ADDRESS: "nowhere" },
      undefined,
      /metricsAddress \(from env TRELLIS_METRICS_ADDRESS\): expected "HOST:PORT"/,
    ],
    [
      { nodeName: "n", cniSocket: "relative.sock" },
      {},
      undefined,
      /cniSocket \(from --cni-socket\): must be an absolute path/,
    ],
    [
      { nodeName: "n", config: "/c" },
      {},
      "leakGraceSeconds: -1\n",
      /leakGraceSeconds \(from config file \/c\)/,
    ],
    [
      { nodeName: "n", config: "/c" },
      {},
      "bogus: 1\n",
      /^invalid configuration: bogus \(from config file \/c\): unknown setting$/,
    ],
    [
      { nodeName: "n", config: "/c" },
      {},
      "policy:\n  enabld: false\n",
      /policy.enabld \(from config file \/c\): unknown setting/,
    ],
    [{ nodeName: "n", config: "/c" }, {}, "[1, 2]\n", /expected a mapping of settings/],
    [{ nodeName: "n", config: "/c" }, {}, "a: [\n", /not valid YAML\/JSON/],
  ])("rejects %j %j %j naming the field", (flags, env, text, re) => {
    const read = text === undefined ? undefined : file(text);
    expect(() => loadConfig(flags, env, read)).toThrow(ConfigError);
    expect(() => loadConfig(flags, env, read)).toThrow(re);
  });

  it("names a config file it cannot read", () => {
    expect(() =>
      loadConfig({ nodeName: "n", config: "/nope.yaml" }, {}, () => {
        throw new Error("ENOENT: no such file");
      }),
    ).toThrow(/--config \/nope.yaml: ENOENT/);
  });
});

describe("trellis-node configuration: bgp", () => {
  it("defaults: on, first-found, secrets in kube-system", () => {
    expect(loadConfig({ nodeName: "n1" }, {}).bgp).toEqual({
      enabled: true,
      addressDetection: "first-found",
      secretNamespace: "kube-system",
    });
  });
  it("takes the BGP password Secrets' namespace from the file", () => {
    const c = loadConfig({ nodeName: "n1", config: "/c" }, {}, file("bgp: {secretNamespace: trellis}\n"));
    expect(c.bgp.secretNamespace).toBe("trellis");
  });
  it("takes a detection method from the file", () => {
    const c = loadConfig(
      { nodeName: "n1", config: "/c" },
      {},
      file("bgp: {addressDetection: interface=eth.*}\n"),
    );
    expect(c.bgp.addressDetection).toBe("interface=eth.*");
  });
  it.each(["bgp: {addressDetection: nearest}\n", "bgp: {enabled: true, asn: 1}\n"])(
    "rejects %j, naming the field",
    (text) => {
      expect(() => loadConfig({ nodeName: "n1", config: "/c" }, {}, file(text))).toThrow(/bgp/);
    },
  );
});
