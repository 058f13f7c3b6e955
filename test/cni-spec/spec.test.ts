// Spec tests for the request handler: every command in every supported
// version, each error code, cniVersions, prevResult first and chained. The
// backend is an in-memory double of the agent (cni/test/memory-backend.ts).
import { describe, expect, it } from "@jest/globals";
import { CniCode, CniError } from "../../cni/error.js";
import { handleCni } from "../../cni/handler.js";
import { MemoryBackend } from "../../cni/test/memory-backend.js";
import { SUPPORTED_VERSIONS } from "../../cni/versions.js";

type Json = Record<string, unknown>;

const CID = "4f1e2d3c4b5a69788796a5b4c3d2e1f0";

function envFor(
  command: string,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: CID,
    CNI_NETNS: "/var/run/netns/tCspec",
    CNI_IFNAME: "eth0",
    CNI_PATH: "/usr/lib/cni",
    CNI_ARGS:
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=" + CID,
    ...extra,
  };
}

function conf(version: string, extra: Json = {}): Json {
  return {
    cniVersion: version,
    name: "k8s-pod-network",
    type: "trellis",
    agentSocket: "/var/run/trellis/cni.sock",
    mtu: 1400,
    ipam: { type: "trellis-ipam" },
    ...extra,
  };
}

async function run(
  backend: MemoryBackend,
  env: Record<string, string | undefined>,
  stdin: Json | string,
): Promise<{ exitCode: number; stdout: string; json: Json | undefined }> {
  const buf = Buffer.from(typeof stdin === "string" ? stdin : JSON.stringify(stdin));
  const out = await handleCni(env, buf, backend);
  return {
    exitCode: out.exitCode,
    stdout: out.stdout,
    json: out.stdout === "" ? undefined : (JSON.parse(out.stdout) as Json),
  };
}

function expectError(r: { exitCode: number; json: Json | undefined }, code: number, msg?: RegExp): void {
  expect(r.exitCode).toBe(1);
  expect(r.json?.code).toBe(code);
  expect(typeof r.json?.msg).toBe("string");
  expect(typeof r.json?.cniVersion).toBe("string");
  if (msg) expect(r.json?.msg as string).toMatch(msg);
}

const legacy = (v: string): boolean => v.startsWith("0.");

describe("VERSION", () => {
  it.each(SUPPORTED_VERSIONS)("answers supportedVersions for a %s request", async (v) => {
    const r = await run(new MemoryBackend(), { CNI_COMMAND: "VERSION" }, { cniVersion: v });
    expect(r.exitCode).toBe(0);
    expect(r.json).toEqual({ cniVersion: "1.1.0", supportedVersions: [...SUPPORTED_VERSIONS] });
  });

  it("needs no other variable and no stdin", async () => {
    const r = await run(new MemoryBackend(), { CNI_COMMAND: "VERSION" }, "");
    expect(r.exitCode).toBe(0);
    expect(r.json?.supportedVersions).toContain("0.3.0");
  });
});

describe.each(SUPPORTED_VERSIONS)("every command at cniVersion %s", (v) => {
  it("ADD returns a result in that version", async () => {
    const b = new MemoryBackend();
    const r = await run(b, envFor("ADD"), conf(v));
    expect(r.exitCode).toBe(0);
    const res = r.json as Json;
    expect(res.cniVersion).toBe(v);
    const ips = res.ips as Json[];
    expect(ips.map((i) => i.address)).toEqual(["10.244.0.2/32", "fd00:244::2/128"]);
    // 0.x results carry ips[].version; 1.0.0 removed it.
    if (legacy(v)) expect(ips.map((i) => i.version)).toEqual(["4", "6"]);
    else for (const ip of ips) expect(ip).not.toHaveProperty("version");
    expect(ips[0]?.interface).toBe(1);
    const ifs = res.interfaces as Json[];
    expect(ifs[1]).toMatchObject({ name: "eth0", sandbox: "/var/run/netns/tCspec" });
    const routes = res.routes as Json[];
    expect(routes[0]).toEqual({ dst: "0.0.0.0/0", gw: "169.254.1.1" });
    // 1.1.0 route and interface attributes appear only in 1.1.0 results.
    if (v === "1.1.0") {
      expect(ifs[1]?.mtu).toBe(1400);
      expect(routes[1]).toMatchObject({ mtu: 1400, priority: 1024 });
    } else {
      expect(ifs[1]).not.toHaveProperty("mtu");
      expect(routes[1]).toEqual({ dst: "::/0", gw: "fe80::ecee:eeff:feee:eeee" });
    }
    expect(b.attachments.size).toBe(1);
  });

  it("CHECK is allowed from 0.4.0 and verifies against prevResult", async () => {
    const b = new MemoryBackend();
    const add = await run(b, envFor("ADD"), conf(v));
    const r = await run(b, envFor("CHECK"), conf(v, { prevResult: add.json }));
    if (v === "0.3.0" || v === "0.3.1") {
      expectError(r, CniCode.IncompatibleVersion, /does not allow CHECK/);
      expect(b.calls).not.toContain("CHECK");
    } else {
      expect(r).toMatchObject({ exitCode: 0, stdout: "" });
      expect(b.calls).toContain("CHECK");
    }
  });

  it("DEL succeeds with no output, and again (idempotent), without CNI_NETNS", async () => {
    const b = new MemoryBackend();
    await run(b, envFor("ADD"), conf(v));
    for (let i = 0; i < 2; i++) {
      const r = await run(b, envFor("DEL", { CNI_NETNS: undefined }), conf(v));
      expect(r).toMatchObject({ exitCode: 0, stdout: "" });
    }
    expect(b.attachments.size).toBe(0);
  });

  it("STATUS is 1.1.0 only", async () => {
    const b = new MemoryBackend();
    const r = await run(b, { CNI_COMMAND: "STATUS" }, conf(v));
    if (v === "1.1.0") expect(r).toMatchObject({ exitCode: 0, stdout: "" });
    else expectError(r, CniCode.IncompatibleVersion, /does not allow STATUS/);
  });

  it("GC is 1.1.0 only", async () => {
    const b = new MemoryBackend();
    const r = await run(b, { CNI_COMMAND: "GC" }, conf(v, { "cni.dev/valid-attachments": [] }));
    if (v === "1.1.0") expect(r).toMatchObject({ exitCode: 0, stdout: "" });
    else expectError(r, CniCode.IncompatibleVersion, /does not allow GC/);
  });

  it("errors carry the config's version", async () => {
    const r = await run(new MemoryBackend(), envFor("ADD"), conf(v, { mtu: 1 }));
    expectError(r, CniCode.InvalidNetworkConfig);
    expect(r.json?.cniVersion).toBe(v);
    const noEnv = await run(new MemoryBackend(), envFor("ADD", { CNI_IFNAME: undefined }), conf(v));
    expectError(noEnv, CniCode.InvalidEnvironment, /CNI_IFNAME/);
    expect(noEnv.json?.cniVersion).toBe(v);
  });
});

describe("GC (1.1.0)", () => {
  it("releases every attachment not in cni.dev/valid-attachments", async () => {
    const b = new MemoryBackend();
    for (const id of ["aaa1", "bbb2", "ccc3"]) {
      await run(b, envFor("ADD", { CNI_CONTAINERID: id }), conf("1.1.0"));
    }
    const r = await run(
      b,
      { CNI_COMMAND: "GC", CNI_PATH: "/usr/lib/cni" },
      conf("1.1.0", { "cni.dev/valid-attachments": [{ containerID: "bbb2", ifname: "eth0" }] }),
    );
    expect(r.exitCode).toBe(0);
    expect([...b.attachments.keys()]).toEqual(["bbb2/eth0"]);
  });

  it("requires cni.dev/valid-attachments (code 7, naming it)", async () => {
    const r = await run(new MemoryBackend(), { CNI_COMMAND: "GC" }, conf("1.1.0"));
    expectError(r, CniCode.InvalidNetworkConfig, /cni\.dev\/valid-attachments/);
  });

  it("rejects a malformed attachment (code 7, naming the field)", async () => {
    const r = await run(
      new MemoryBackend(),
      { CNI_COMMAND: "GC" },
      conf("1.1.0", { "cni.dev/valid-attachments": [{ containerID: "x" }] }),
    );
    expectError(r, CniCode.InvalidNetworkConfig, /cni\.dev\/valid-attachments\.0\.ifname/);
  });
});

describe("STATUS (1.1.0): the backend decides", () => {
  it.each([
    ["ready", { ready: true, damaged: false }, 0],
    ["not ready -> 50", { ready: false, damaged: false }, CniCode.NotAvailable],
    ["damaged -> 51", { ready: true, damaged: true }, CniCode.NotAvailableContainersDamaged],
  ] as const)("%s", async (_n, state, code) => {
    const b = new MemoryBackend();
    Object.assign(b, state);
    const r = await run(b, { CNI_COMMAND: "STATUS" }, conf("1.1.0"));
    if (code === 0) expect(r.exitCode).toBe(0);
    else expectError(r, code);
  });
});

describe("cniVersions (1.1.0 configs)", () => {
  it("uses the highest supported listed version when cniVersion is absent", async () => {
    const c = conf("x");
    delete c.cniVersion;
    c.cniVersions = ["0.4.0", "1.0.0", "9.9.9"];
    const r = await run(new MemoryBackend(), envFor("ADD"), c);
    expect(r.exitCode).toBe(0);
    expect(r.json?.cniVersion).toBe("1.0.0");
  });

  it("falls back to cniVersions when cniVersion is unsupported", async () => {
    const r = await run(
      new MemoryBackend(),
      envFor("ADD"),
      conf("2.0.0", { cniVersions: ["0.3.1", "1.1.0"] }),
    );
    expect(r.json?.cniVersion).toBe("1.1.0");
  });

  it("code 1 when nothing listed is supported", async () => {
    const c = conf("x");
    delete c.cniVersion;
    c.cniVersions = ["0.1.0", "2.0.0"];
    expectError(await run(new MemoryBackend(), envFor("ADD"), c), CniCode.IncompatibleVersion);
  });
});

describe("prevResult", () => {
  it("first in the chain: no prevResult reaches the backend, the result is ours alone", async () => {
    const b = new MemoryBackend();
    const r = await run(b, envFor("ADD"), conf("1.0.0"));
    expect((b.last as { prevResult?: unknown }).prevResult).toBeUndefined();
    expect((r.json?.interfaces as Json[]).length).toBe(2);
  });

  it.each(SUPPORTED_VERSIONS)("chained at %s: the previous result is kept and ours appended", async (v) => {
    const prev: Json = {
      cniVersion: v,
      interfaces: [{ name: "net1", mac: "02:00:00:00:00:01", sandbox: "/var/run/netns/tCspec" }],
      ips: [
        {
          ...(legacy(v) ? { version: "4" } : {}),
          address: "192.168.7.5/24",
          gateway: "192.168.7.1",
          interface: 0,
        },
      ],
      routes: [{ dst: "192.168.0.0/16", gw: "192.168.7.1" }],
      dns: { nameservers: ["192.168.7.53"] },
    };
    const b = new MemoryBackend();
    const r = await run(b, envFor("ADD"), conf(v, { prevResult: prev }));
    expect(r.exitCode).toBe(0);
    const res = r.json as Json;
    expect((res.interfaces as Json[]).map((i) => i.name)).toEqual(["net1", `trl${CID.slice(0, 11)}`, "eth0"]);
    const ips = res.ips as Json[];
    expect(ips[0]).toMatchObject({ address: "192.168.7.5/24", gateway: "192.168.7.1", interface: 0 });
    expect(ips[1]).toMatchObject({ address: "10.244.0.2/32", interface: 2 });
    expect((res.routes as Json[])[0]).toEqual({ dst: "192.168.0.0/16", gw: "192.168.7.1" });
    expect(res.dns).toEqual({ nameservers: ["192.168.7.53"] });
  });

  it("a 0.4.0 prevResult without ips[].version is invalid (code 7, naming it)", async () => {
    const prev = { cniVersion: "0.4.0", ips: [{ address: "10.0.0.1/32" }] };
    const r = await run(new MemoryBackend(), envFor("ADD"), conf("0.4.0", { prevResult: prev }));
    expectError(r, CniCode.InvalidNetworkConfig, /prevResult\.ips\.0\.version/);
  });

  it("a prevResult with a bad address is invalid (code 7, naming it)", async () => {
    const prev = { cniVersion: "1.0.0", ips: [{ address: "10.0.0.300/32" }] };
    const r = await run(new MemoryBackend(), envFor("ADD"), conf("1.0.0", { prevResult: prev }));
    expectError(r, CniCode.InvalidNetworkConfig, /prevResult\.ips\.0\.address/);
  });

  it("DEL still succeeds with a damaged prevResult (release what can be released)", async () => {
    const b = new MemoryBackend();
    const prev = { cniVersion: "1.0.0", ips: [{ address: "garbage" }] };
    const r = await run(b, envFor("DEL"), conf("1.0.0", { prevResult: prev }));
    expect(r).toMatchObject({ exitCode: 0, stdout: "" });
    expect(b.calls).toEqual(["DEL"]);
  });

  it("CHECK without prevResult is code 7 naming prevResult", async () => {
    const r = await run(new MemoryBackend(), envFor("CHECK"), conf("1.0.0"));
    expectError(r, CniCode.InvalidNetworkConfig, /prevResult/);
  });

  it("CHECK of an unknown container is code 3", async () => {
    const prev = { cniVersion: "1.0.0", ips: [{ address: "10.0.0.1/32" }] };
    const r = await run(new MemoryBackend(), envFor("CHECK"), conf("1.0.0", { prevResult: prev }));
    expectError(r, CniCode.UnknownContainer);
  });
});

describe("runtimeConfig and CNI_ARGS reach the backend", () => {
  it("ips, mac and portMappings", async () => {
    const b = new MemoryBackend();
    const rc = {
      ips: ["10.9.9.9", "fd00::9/128"],
      mac: "0a:58:0a:09:09:09",
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
    };
    const r = await run(
      b,
      envFor("ADD"),
      conf("1.1.0", { capabilities: { ips: true, mac: true }, runtimeConfig: rc }),
    );
    expect(r.exitCode).toBe(0);
    expect((r.json?.ips as Json[]).map((i) => i.address)).toEqual(["10.9.9.9/32", "fd00::9/128"]);
    expect((r.json?.interfaces as Json[])[1]?.mac).toBe("0a:58:0a:09:09:09");
    expect((b.last as { config: { runtimeConfig: unknown } }).config.runtimeConfig).toEqual(rc);
  });

  it("Kubernetes keys of CNI_ARGS are parsed", async () => {
    const b = new MemoryBackend();
    await run(
      b,
      envFor("ADD", {
        CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p1;K8S_POD_UID=u-1;FOO=bar",
      }),
      conf("1.1.0"),
    );
    const args = (b.last as unknown as { args: { k8s: Json; pairs: Json } }).args;
    expect(args.k8s).toEqual({ podNamespace: "ns1", podName: "p1", podUid: "u-1" });
    expect(args.pairs.FOO).toBe("bar");
  });
});

describe("unknown keys: accepted at the top level, errors inside Trellis's own sections", () => {
  // Runtimes and meta-plugins add top-level keys of their own (cni.dev/…,
  // Multus); every Go plugin ignores them, so Trellis does too.
  const extra = { "cni.dev/pod-uid": "8c1f", multusNetworkName: "default", bogus: 42 };

  it.each(["ADD", "CHECK", "DEL"])("%s accepts unknown top-level keys and reports them once", async (cmd) => {
    const b = new MemoryBackend();
    const seen: string[][] = [];
    let prev: Json = {};
    if (cmd !== "ADD") {
      const add = await handleCni(envFor("ADD"), Buffer.from(JSON.stringify(conf("1.1.0", extra))), b);
      expect(add.exitCode).toBe(0);
      if (cmd === "CHECK") prev = { prevResult: JSON.parse(add.stdout) as Json };
    }
    const stdin = conf("1.1.0", { ...extra, ...prev });
    const out = await handleCni(envFor(cmd), Buffer.from(JSON.stringify(stdin)), b, {
      onUnknownKeys: (k) => seen.push(k),
    });
    expect(out.exitCode).toBe(0);
    expect(seen).toEqual([["bogus", "cni.dev/pod-uid", "multusNetworkName"]]);
    // The parsed config the backend sees has only known keys; the raw stdin keeps them.
    const last = b.last as { config: Json; stdin: Buffer };
    expect(Object.keys(last.config)).not.toContain("bogus");
    expect(JSON.parse(last.stdin.toString())).toMatchObject(extra);
  });

  it("no callback when every key is known", async () => {
    const seen: string[][] = [];
    const out = await handleCni(
      envFor("ADD"),
      Buffer.from(JSON.stringify(conf("1.1.0"))),
      new MemoryBackend(),
      {
        onUnknownKeys: (k) => seen.push(k),
      },
    );
    expect(out.exitCode).toBe(0);
    expect(seen).toEqual([]);
  });

  it.each<[string, Json, number, RegExp]>([
    [
      "inside ipam (trellis-ipam)",
      { ipam: { type: "trellis-ipam", subnet: "10.0.0.0/8" } },
      2,
      /"ipam\.subnet"/,
    ],
    ["inside dns", { dns: { servers: [] } }, 2, /"dns\.servers"/],
    [
      "inside a GC attachment",
      { "cni.dev/valid-attachments": [{ containerID: "c", ifname: "eth0", pod: "x" }] },
      2,
      /valid-attachments\.0\.pod/,
    ],
  ])("an unknown key %s is still an error", async (_n, extraKeys, code, msg) => {
    const b = new MemoryBackend();
    const cmd = "cni.dev/valid-attachments" in extraKeys ? "GC" : "ADD";
    const r = await run(b, envFor(cmd), conf("1.1.0", { ...extraKeys, bogus: 42 }));
    expectError(r, code, msg);
    expect(b.calls).toEqual([]);
  });
});

describe("error codes", () => {
  const withName = (name: string, value: string | undefined): Record<string, string | undefined> =>
    envFor("ADD", { [name]: value });
  const cases: Array<[string, Record<string, string | undefined>, Json | string, number, RegExp]> = [
    // 1: incompatible version
    [
      "unsupported cniVersion",
      envFor("ADD"),
      conf("9.9.9"),
      1,
      /incompatible CNI versions: config is "9\.9\.9"/,
    ],
    ["cniVersion that is not a version", envFor("ADD"), conf("banana"), 1, /not a version/],
    ["0.2.0 is out of range", envFor("ADD"), conf("0.2.0"), 1, /0\.2\.0/],
    ["no cniVersion at all", envFor("ADD"), { name: "n", type: "trellis" }, 1, /no cniVersion/],
    // 2: unsupported field, naming key and value
    // (unknown top-level keys are accepted: see "unknown keys" below)
    [
      "unknown trellis-ipam field",
      envFor("ADD"),
      conf("1.0.0", { ipam: { type: "trellis-ipam", subnet: "10.0.0.0/8" } }),
      2,
      /"ipam\.subnet".*10\.0\.0\.0\/8/,
    ],
    ["unknown dns field", envFor("ADD"), conf("1.0.0", { dns: { servers: [] } }), 2, /"dns\.servers"/],
    // 4: environment
    ["missing CNI_COMMAND", withName("CNI_COMMAND", undefined), conf("1.0.0"), 4, /CNI_COMMAND/],
    ["unknown CNI_COMMAND", withName("CNI_COMMAND", "UPDATE"), conf("1.0.0"), 4, /CNI_COMMAND.*UPDATE/],
    ["missing CNI_CONTAINERID", withName("CNI_CONTAINERID", undefined), conf("1.0.0"), 4, /CNI_CONTAINERID/],
    ["invalid CNI_CONTAINERID", withName("CNI_CONTAINERID", "../etc"), conf("1.0.0"), 4, /CNI_CONTAINERID/],
    ["missing CNI_NETNS on ADD", withName("CNI_NETNS", undefined), conf("1.0.0"), 4, /CNI_NETNS/],
    ["relative CNI_NETNS", withName("CNI_NETNS", "netns/x"), conf("1.0.0"), 4, /CNI_NETNS/],
    ["missing CNI_IFNAME", withName("CNI_IFNAME", undefined), conf("1.0.0"), 4, /CNI_IFNAME/],
    [
      "CNI_IFNAME too long",
      withName("CNI_IFNAME", "eth0123456789abc"),
      conf("1.0.0"),
      4,
      /CNI_IFNAME.*longer than 15/,
    ],
    ["CNI_IFNAME with a slash", withName("CNI_IFNAME", "a/b"), conf("1.0.0"), 4, /CNI_IFNAME/],
    ["missing CNI_PATH", withName("CNI_PATH", undefined), conf("1.0.0"), 4, /CNI_PATH/],
    [
      "CNI_ARGS unknown key without IgnoreUnknown",
      withName("CNI_ARGS", "FOO=bar"),
      conf("1.0.0"),
      4,
      /CNI_ARGS.*"FOO"/,
    ],
    [
      "CNI_ARGS pair without =",
      withName("CNI_ARGS", "IgnoreUnknown=1;junk"),
      conf("1.0.0"),
      4,
      /CNI_ARGS.*"junk"/,
    ],
    [
      "CNI_ARGS bad IgnoreUnknown",
      withName("CNI_ARGS", "IgnoreUnknown=maybe"),
      conf("1.0.0"),
      4,
      /IgnoreUnknown/,
    ],
    // 6: decoding
    ["malformed JSON", envFor("ADD"), '{"cniVersion": "1.0.0", ', 6, /failed to decode/],
    ["empty stdin", envFor("ADD"), "", 6, /empty/],
    ["a JSON array", envFor("ADD"), "[1,2]", 6, /JSON object/],
    // 7: invalid values, naming the field
    ["mtu too large", envFor("ADD"), conf("1.0.0", { mtu: 70000 }), 7, /"mtu".*70000/],
    ["mtu not a number", envFor("ADD"), conf("1.0.0", { mtu: "1500" }), 7, /"mtu"/],
    ["missing name", envFor("ADD"), { cniVersion: "1.0.0", type: "trellis" }, 7, /name/],
    ["invalid name", envFor("ADD"), conf("1.0.0", { name: "-bad name" }), 7, /"name"/],
    ["relative agentSocket", envFor("ADD"), conf("1.0.0", { agentSocket: "cni.sock" }), 7, /"agentSocket"/],
    ["ipam without type", envFor("ADD"), conf("1.0.0", { ipam: {} }), 7, /"ipam\.type"/],
    [
      "bad runtimeConfig.mac",
      envFor("ADD"),
      conf("1.0.0", { runtimeConfig: { mac: "zz" } }),
      7,
      /"runtimeConfig\.mac"/,
    ],
    [
      "bad runtimeConfig.ips",
      envFor("ADD"),
      conf("1.0.0", { runtimeConfig: { ips: ["300.1.1.1"] } }),
      7,
      /"runtimeConfig\.ips\.0"/,
    ],
    [
      "bad dns nameserver",
      envFor("ADD"),
      conf("1.0.0", { dns: { nameservers: ["x"] } }),
      7,
      /"dns\.nameservers\.0"/,
    ],
    ["cniVersions not a list", envFor("ADD"), conf("1.0.0", { cniVersions: "1.0.0" }), 7, /cniVersions/],
  ];
  it.each(cases)("%s", async (_name, env, stdin, code, msg) => {
    const b = new MemoryBackend();
    expectError(await run(b, env, stdin), code, msg);
    expect(b.calls).toEqual([]);
  });

  it("an empty CNI_CONTAINERID on CHECK is an environment error (4), not code 3", async () => {
    const r = await run(new MemoryBackend(), envFor("CHECK", { CNI_CONTAINERID: "" }), conf("1.1.0"));
    expectError(r, 4, /CNI_CONTAINERID/);
  });

  it("a CniError from the backend passes through with its code (11)", async () => {
    const b = new MemoryBackend();
    b.add = () => Promise.reject(new CniError(CniCode.TryAgainLater, "IPAM busy", "retry"));
    const r = await run(b, envFor("ADD"), conf("0.3.1"));
    expect(r.exitCode).toBe(1);
    expect(r.json).toEqual({ cniVersion: "0.3.1", code: 11, msg: "IPAM busy", details: "retry" });
  });

  it("any other exception is code 999 without a stack trace", async () => {
    const b = new MemoryBackend();
    b.add = () => Promise.reject(new TypeError("x is undefined"));
    const r = await run(b, envFor("ADD"), conf("1.0.0"));
    expectError(r, 999, /internal error: x is undefined/);
    expect(r.stdout).not.toMatch(/at .*\.js/);
  });

  it("an invalid result from the backend is code 999, never printed as a result", async () => {
    const b = new MemoryBackend();
    b.add = () =>
      Promise.resolve({
        interfaces: [],
        ips: [{ address: "10.0.0.1/32", interface: 3 }],
        routes: [],
        dns: {},
      });
    const r = await run(b, envFor("ADD"), conf("1.0.0"));
    expectError(r, 999, /invalid result\.ips\.0\.interface/);
  });

  it("a field of a delegated IPAM config is passed through, not rejected", async () => {
    const b = new MemoryBackend();
    b.add = () => Promise.resolve({ interfaces: [], ips: [], routes: [], dns: {} });
    const r = await run(
      b,
      envFor("ADD"),
      conf("1.0.0", { ipam: { type: "host-local", ranges: [[{ subnet: "10.1.0.0/24" }]] } }),
    );
    expect(r.exitCode).toBe(0);
  });
});
