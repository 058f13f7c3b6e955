// Delegated IPAM against the real reference plugins (/usr/lib/cni host-local
// and static), exec'd per the spec with a temp data dir. Through the handler,
// so the version handling (the Debian plugins stop at 1.0.0) is covered too.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { handleCni } from "../handler.js";
import { delegateIpam, findPlugin, pluginVersions } from "../ipam-delegate.js";
import { MemoryBackend } from "./memory-backend.js";
import { requireExecutable } from "../../test/support/require.js";

const CNI_BIN = "/usr/lib/cni";

let dataDir = "";
beforeAll(() => {
  requireExecutable(join(CNI_BIN, "host-local"), "containernetworking-plugins");
  requireExecutable(join(CNI_BIN, "static"), "containernetworking-plugins");
  dataDir = mkdtempSync(join(tmpdir(), "tC-ipam-"));
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function env(command: string, id: string): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: "/var/run/netns/tCipam",
    CNI_IFNAME: "eth0",
    // A missing directory first: the search must go on to the next.
    CNI_PATH: `/nonexistent/tC:${CNI_BIN}`,
    CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p",
  };
}

async function call(
  command: string,
  id: string,
  conf: object,
): Promise<{ exitCode: number; json: Record<string, unknown> | undefined }> {
  const out = await handleCni(env(command, id), Buffer.from(JSON.stringify(conf)), backend);
  return {
    exitCode: out.exitCode,
    json: out.stdout ? (JSON.parse(out.stdout) as Record<string, unknown>) : undefined,
  };
}

const backend = new MemoryBackend();

function hostLocal(version: string, subnet = "10.77.0.0/29"): object {
  return {
    cniVersion: version,
    name: "tc-hl",
    type: "trellis",
    ipam: { type: "host-local", ranges: [[{ subnet }]], dataDir },
  };
}

describe("delegation to host-local", () => {
  it.each(["0.4.0", "1.0.0", "1.1.0"])("ADD then DEL at %s allocates and frees on disk", async (v) => {
    const id = `hl${v.replace(/\./g, "")}`;
    const add = await call("ADD", id, hostLocal(v));
    expect(add.exitCode).toBe(0);
    expect(add.json?.cniVersion).toBe(v);
    const ips = add.json?.ips as Array<{ address: string; gateway?: string }>;
    expect(ips).toHaveLength(1);
    expect(ips[0]?.address).toMatch(/^10\.77\.0\.[2-6]\/29$/);
    const ip = ips[0]?.address.split("/")[0] ?? "";
    expect(readdirSync(join(dataDir, "tc-hl"))).toContain(ip);
    const del = await call("DEL", id, hostLocal(v));
    expect(del.exitCode).toBe(0);
    expect(readdirSync(join(dataDir, "tc-hl"))).not.toContain(ip);
  });

  it("passes host-local's own error through with its code, prefixed by the plugin", async () => {
    // A /30 has no free address once .1 is the gateway and .2 is taken.
    const small = (id: string) => call("ADD", id, hostLocal("1.0.0", "10.78.0.0/30"));
    expect((await small("full1")).exitCode).toBe(0);
    const r = await small("full2");
    expect(r.exitCode).toBe(1);
    expect(r.json?.msg).toMatch(/^host-local: /);
    expect(typeof r.json?.code).toBe("number");
  });

  it("a plugin missing from CNI_PATH is code 7 naming ipam.type", async () => {
    const r = await call("ADD", "nf1", {
      cniVersion: "1.0.0",
      name: "n",
      type: "trellis",
      ipam: { type: "tC-no-such-ipam" },
    });
    expect(r.json).toMatchObject({ code: 7 });
    expect(r.json?.msg).toMatch(/ipam\.type.*tC-no-such-ipam.*not found in CNI_PATH/);
  });

  it("GC and STATUS are skipped for a plugin that predates 1.1.0", async () => {
    expect(await pluginVersions(await findPlugin("host-local", [CNI_BIN]))).not.toContain("1.1.0");
    const conf = hostLocal("1.1.0");
    const ctx = {
      cniVersion: "1.1.0" as const,
      config: conf as never,
      path: [CNI_BIN],
      env: { CNI_COMMAND: "GC", CNI_PATH: CNI_BIN },
      stdin: Buffer.from(JSON.stringify(conf)),
    };
    await expect(delegateIpam("GC", ctx)).resolves.toBeUndefined();
  });
});

describe("delegation to static", () => {
  it.each(["0.3.1", "1.0.0", "1.1.0"])("ADD at %s returns the configured address and gateway", async (v) => {
    const conf = {
      cniVersion: v,
      name: "tc-static",
      type: "trellis",
      ipam: {
        type: "static",
        addresses: [{ address: "10.88.0.5/24", gateway: "10.88.0.1" }],
        routes: [{ dst: "0.0.0.0/0" }],
      },
    };
    const r = await call("ADD", `st${v.replace(/\./g, "")}`, conf);
    expect(r.exitCode).toBe(0);
    const ip = (r.json?.ips as Array<Record<string, unknown>>)[0];
    expect(ip).toMatchObject({ address: "10.88.0.5/24", gateway: "10.88.0.1" });
    if (v.startsWith("0.")) expect(ip?.version).toBe("4");
    else expect(ip).not.toHaveProperty("version");
  });

  it("static's validation error comes back as a spec error", async () => {
    const conf = {
      cniVersion: "1.0.0",
      name: "tc-static",
      type: "trellis",
      ipam: { type: "static", addresses: [{ address: "nope" }] },
    };
    const r = await call("ADD", "stbad", conf);
    expect(r.exitCode).toBe(1);
    expect(r.json?.msg).toMatch(/^static: /);
  });
});

describe("delegation failures", () => {
  let bin = "";
  beforeAll(() => {
    bin = mkdtempSync(join(tmpdir(), "tC-bin-"));
    const script = (name: string, body: string): void =>
      writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    // Every fake answers VERSION first, as a real plugin does.
    const version =
      'if [ "$CNI_COMMAND" = VERSION ]; then echo \'{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}\'; exit 0; fi';
    script("tC-slow", `${version}\nexec sleep 5`);
    script("tC-garbage", `${version}\necho 'not json' ; echo boom >&2; exit 3`);
    script("tC-badresult", `${version}\necho '{"cniVersion":"1.1.0","ips":[{"address":"nope"}]}'`);
    mkdirSync(join(bin, "tC-dir"));
  });
  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  function ctx(type: string) {
    const conf = { cniVersion: "1.1.0", name: "n", type: "trellis", ipam: { type } };
    return {
      cniVersion: "1.1.0" as const,
      config: conf as never,
      path: [bin],
      env: {
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: "c",
        CNI_IFNAME: "eth0",
        CNI_NETNS: "/run/netns/tCx",
        CNI_PATH: bin,
      },
      stdin: Buffer.from(JSON.stringify(conf)),
    };
  }

  async function codeOf(p: Promise<unknown>): Promise<[number, string]> {
    try {
      await p;
      return [0, ""];
    } catch (e) {
      const err = e as { code: number; message: string };
      return [err.code, err.message];
    }
  }

  it("a plugin that hangs is killed: code 11", async () => {
    const [code, msg] = await codeOf(delegateIpam("ADD", ctx("tC-slow"), { timeoutMs: 200 }));
    expect(code).toBe(11);
    expect(msg).toMatch(/tC-slow: IPAM plugin timed out/);
  });

  it("a plugin that fails without a spec error: code 999 with its stderr as details", async () => {
    await expect(delegateIpam("ADD", ctx("tC-garbage"))).rejects.toMatchObject({
      code: 999,
      details: "boom",
    });
  });

  it("a plugin whose result does not validate: code 7 naming the field", async () => {
    const [code, msg] = await codeOf(delegateIpam("ADD", ctx("tC-badresult")));
    expect(code).toBe(7);
    expect(msg).toMatch(/tC-badresult result\.ips\.0\.address/);
  });

  it("a path entry that cannot be executed: code 5", async () => {
    const [code] = await codeOf(delegateIpam("ADD", ctx("tC-dir")));
    expect(code).toBe(5);
  });
});
