// The libcni-style runtime against real executables on disk: small recording
// plugins that log what a runtime handed them and chain their results.
import { afterAll, describe, expect, it } from "@jest/globals";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CniPluginError, CniRuntime } from "../cni-runtime.js";
import type { CniRuntimeArgs, Conflist } from "../cni-request.js";

const tmp = mkdtempSync(join(tmpdir(), "trellis-cni-runtime-"));
const bin = join(tmp, "bin");
const log = join(tmp, "calls.log");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// CommonJS (no package.json above /tmp says otherwise): reads stdin, records
// the call, and on ADD extends prevResult's `chain` with its own name.
const RECORDER = `#!${process.execPath}
const fs = require("node:fs");
const name = require("node:path").basename(process.argv[1]);
let input = "";
process.stdin.on("data", (d) => (input += d)).on("end", () => {
  const conf = JSON.parse(input);
  const env = {};
  for (const k of Object.keys(process.env)) if (k.startsWith("CNI_")) env[k] = process.env[k];
  fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ plugin: name, env, conf }) + "\\n");
  if (name === "fail") {
    process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, code: 7, msg: "boom", details: "from fail" }));
    process.exit(1);
  }
  if (process.env.CNI_COMMAND === "ADD") {
    const prev = conf.prevResult ?? { cniVersion: conf.cniVersion, ips: [{ address: "10.1.0.7/32" }], chain: [] };
    process.stdout.write(JSON.stringify({ ...prev, chain: [...prev.chain, name] }));
  }
});
`;
mkdirSync(bin, { recursive: true });
for (const name of ["rec-a", "rec-b", "fail"]) {
  writeFileSync(join(bin, name), RECORDER);
  chmodSync(join(bin, name), 0o755);
}

interface Call {
  plugin: string;
  env: Record<string, string>;
  conf: Record<string, unknown>;
}
const calls = (): Call[] =>
  existsSync(log)
    ? readFileSync(log, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Call)
    : [];

const list: Conflist = {
  cniVersion: "1.0.0",
  name: "testnet",
  plugins: [{ type: "rec-a" }, { type: "rec-b", capabilities: { portMappings: true } }],
};
const args: CniRuntimeArgs = {
  containerId: "c0ffee",
  netnsPath: "/var/run/netns/none",
  ifName: "eth0",
  pod: { namespace: "ns1", name: "p1", uid: "u-1" },
  cniPath: ["/nonexistent", bin],
  capabilityArgs: { portMappings: [{ hostPort: 1, containerPort: 2, protocol: "tcp" }] },
};
const cacheDir = join(tmp, "cache");
const runtime = new CniRuntime(list, JSON.stringify(list), cacheDir);

describe("CNI runtime (libcni semantics)", () => {
  it("ADD runs the list in order, chaining each result into the next plugin's prevResult", async () => {
    rmSync(log, { force: true });
    const result = await runtime.add(args);
    expect(result).toMatchObject({ chain: ["rec-a", "rec-b"], ips: [{ address: "10.1.0.7/32" }] });
    const [a, b] = calls();
    expect([a?.plugin, b?.plugin]).toEqual(["rec-a", "rec-b"]);
    expect(a?.conf["prevResult"]).toBeUndefined();
    expect(b?.conf["prevResult"]).toMatchObject({ chain: ["rec-a"] });
    expect(a?.env).toMatchObject({
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c0ffee",
      CNI_IFNAME: "eth0",
      CNI_PATH: `/nonexistent:${bin}`,
    });
    expect(a?.env["CNI_ARGS"]).toContain("K8S_POD_NAME=p1");
    expect(a?.conf).toMatchObject({ name: "testnet", cniVersion: "1.0.0" });
    // runtimeConfig only for the plugin that declares the capability
    expect(a?.conf["runtimeConfig"]).toBeUndefined();
    expect(b?.conf["runtimeConfig"]).toEqual({ portMappings: args.capabilityArgs["portMappings"] });
  });

  it("caches the final result like libcni", () => {
    const entry = runtime.readCache("c0ffee", "eth0");
    expect(entry).toMatchObject({
      kind: "cniCacheV1",
      containerId: "c0ffee",
      ifName: "eth0",
      networkName: "testnet",
    });
    expect(entry?.result).toMatchObject({ chain: ["rec-a", "rec-b"] });
    expect(existsSync(join(cacheDir, "results", "testnet-c0ffee-eth0"))).toBe(true);
  });

  it("DEL runs the list in reverse, each plugin getting the cached result, then drops the cache", async () => {
    rmSync(log, { force: true });
    await runtime.del(args);
    const c = calls();
    expect(c.map((x) => [x.plugin, x.env["CNI_COMMAND"]])).toEqual([
      ["rec-b", "DEL"],
      ["rec-a", "DEL"],
    ]);
    for (const x of c) expect(x.conf["prevResult"]).toMatchObject({ chain: ["rec-a", "rec-b"] });
    expect(runtime.readCache("c0ffee", "eth0")).toBeUndefined();
  });

  it("stops ADD at a failing plugin and surfaces its spec error (code, msg, details)", async () => {
    rmSync(log, { force: true });
    const failing = new CniRuntime(
      { ...list, plugins: [{ type: "rec-a" }, { type: "fail" }, { type: "rec-b" }] },
      "{}",
      cacheDir,
    );
    const err = await failing.add(args).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniPluginError);
    expect(err).toMatchObject({ plugin: "fail", code: 7, msg: "boom", details: "from fail" });
    expect(calls().map((x) => x.plugin)).toEqual(["rec-a", "fail"]);
  });

  it("reports a plugin missing from CNI_PATH the way libcni does", async () => {
    const missing = new CniRuntime({ ...list, plugins: [{ type: "nope" }] }, "{}", cacheDir);
    await expect(missing.add(args)).rejects.toThrow(
      `failed to find plugin "nope" in path [/nonexistent ${bin}]`,
    );
  });

  it("uses the first network config of the conf dir in lexical order, a single-plugin .conf as a one-plugin list", () => {
    const confDir = join(tmp, "net.d");
    mkdirSync(confDir, { recursive: true });
    writeFileSync(join(confDir, "20-later.conflist"), JSON.stringify(list));
    writeFileSync(
      join(confDir, "10-first.conf"),
      JSON.stringify({ cniVersion: "0.4.0", name: "single", type: "rec-a" }),
    );
    writeFileSync(join(confDir, "00-ignored.txt"), "not a config");
    const r = CniRuntime.fromConfDir(confDir, cacheDir);
    expect(r.list).toEqual({
      cniVersion: "0.4.0",
      name: "single",
      plugins: [{ cniVersion: "0.4.0", name: "single", type: "rec-a" }],
    });
    expect(() => CniRuntime.fromConfDir(join(tmp, "bin"), cacheDir)).toThrow(/no network config found/);
  });
});
