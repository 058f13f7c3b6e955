// The real static shim (cni/shim/trellis) end to end: built with make, exec'd
// as a process with CNI env + stdin, against a running agent/cni-server on a
// temp socket, against no server, and against servers that misbehave.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CniServer } from "../../agent/cni-server/server.js";
import { CountingSocket } from "./counting-socket.js";
import { MemoryBackend } from "../../cni/test/memory-backend.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const SHIM = join(root, "cni/shim/trellis");

interface ShimRun {
  code: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

function runShim(
  env: Record<string, string>,
  stdin: string | Buffer,
  argv: string[] = [SHIM],
): Promise<ShimRun> {
  return new Promise((resolve, reject) => {
    const [cmd = SHIM, ...args] = argv;
    const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.stdin.on("error", () => undefined);
    child.on("close", (code) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = out === "" ? undefined : (JSON.parse(out) as Record<string, unknown>);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout: out, stderr: err, json });
    });
    child.stdin.end(stdin);
  });
}

/**
 * Run the shim in a private mount namespace with an empty /run, so the
 * default socket (/var/run/trellis/cni.sock) is absent whatever this machine
 * runs, or, with `atDefault`, is that socket path bind-mounted there.
 */
function runShimPrivateRun(env: Record<string, string>, stdin: string, atDefault?: string): Promise<ShimRun> {
  const script =
    "/bin/mount -t tmpfs tmpfs /run && /bin/mkdir /run/trellis && " +
    (atDefault === undefined
      ? ""
      : ': > /run/trellis/cni.sock && /bin/mount --bind "$1" /run/trellis/cni.sock && ') +
    'exec "$0"';
  return runShim(env, stdin, [
    "/usr/bin/unshare",
    "--mount",
    "--propagation",
    "private",
    "/bin/sh",
    "-c",
    script,
    SHIM,
    atDefault ?? "",
  ]);
}

let dir = "";
let sock = "";
let server: CniServer;
const backend = new MemoryBackend();

beforeAll(async () => {
  execFileSync("make", ["-s", "-C", join(root, "cni/shim")], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "tCshim-"));
  sock = join(dir, "cni.sock");
  server = new CniServer({ socketPath: sock, backend });
  await server.listen();
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const CID = "5e5e5e5e5e5e";
const attach = (command: string): Record<string, string> => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: CID,
  CNI_NETNS: "/var/run/netns/tCshim",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/usr/lib/cni",
  CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=shim-pod",
});
const conf = (extra: Record<string, unknown> = {}, version = "1.1.0"): string =>
  JSON.stringify({
    cniVersion: version,
    name: "k8s-pod-network",
    type: "trellis",
    agentSocket: sock,
    mtu: 1500,
    ipam: { type: "trellis-ipam" },
    ...extra,
  });

describe("shim against a running agent server", () => {
  it("VERSION", async () => {
    const r = await runShim({ CNI_COMMAND: "VERSION" }, conf());
    expect(r.code).toBe(0);
    expect(r.json).toEqual({
      cniVersion: "1.1.0",
      supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
    expect(r.stderr).toBe("");
  });

  it("ADD, CHECK, STATUS, GC, DEL round trip with the agent's state", async () => {
    const add = await runShim(attach("ADD"), conf());
    expect(add.code).toBe(0);
    expect(add.json?.cniVersion).toBe("1.1.0");
    expect(backend.attachments.get(`${CID}/eth0`)?.podName).toBe("shim-pod");

    const check = await runShim(attach("CHECK"), conf({ prevResult: add.json }));
    expect([check.code, check.stdout]).toEqual([0, ""]);

    const status = await runShim({ CNI_COMMAND: "STATUS", CNI_PATH: "/usr/lib/cni" }, conf());
    expect([status.code, status.stdout]).toEqual([0, ""]);

    const gc = await runShim(
      { CNI_COMMAND: "GC", CNI_PATH: "/usr/lib/cni" },
      conf({ "cni.dev/valid-attachments": [{ containerID: CID, ifname: "eth0" }] }),
    );
    expect([gc.code, gc.stdout]).toEqual([0, ""]);
    expect(backend.attachments.size).toBe(1);

    const del = await runShim(attach("DEL"), conf());
    expect([del.code, del.stdout]).toEqual([0, ""]);
    expect(backend.attachments.size).toBe(0);
  });

  it("50 concurrent ADDs through 50 shim processes all get their own answer", async () => {
    const before = server.metrics.count("ADD", "success");
    const runs = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        runShim({ ...attach("ADD"), CNI_CONTAINERID: `burst${i}` }, conf()),
      ),
    );
    expect(runs.every((r) => r.code === 0)).toBe(true);
    const addrs = runs.map(
      (r) => ((r.json?.ips as Array<{ address: string }>)[0] ?? { address: "" }).address,
    );
    expect(new Set(addrs).size).toBe(50);
    expect(server.metrics.count("ADD", "success") - before).toBe(50);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        runShim({ ...attach("DEL"), CNI_CONTAINERID: `burst${i}` }, conf()),
      ),
    );
    expect([...backend.attachments.keys()].filter((k) => k.startsWith("burst"))).toEqual([]);
  });

  it("STATUS not ready is 50 from the agent", async () => {
    backend.ready = false;
    try {
      const r = await runShim({ CNI_COMMAND: "STATUS" }, conf());
      expect(r.code).toBe(1);
      expect(r.json).toMatchObject({ cniVersion: "1.1.0", code: 50 });
    } finally {
      backend.ready = true;
    }
  });

  it.each([
    [
      "malformed stdin -> 6",
      attach("ADD"),
      `{"cniVersion":"1.1.0","agentSocket":"@S@",`,
      6,
      /failed to decode/,
    ],
    [
      "missing env -> 4",
      { CNI_COMMAND: "ADD", CNI_NETNS: "/run/netns/x", CNI_IFNAME: "eth0", CNI_PATH: "/usr/lib/cni" },
      "@CONF@",
      4,
      /CNI_CONTAINERID/,
    ],
    ["unsupported version -> 1", attach("ADD"), "@CONF9@", 1, /9\.9\.9/],
    ["unknown trellis-ipam field -> 2", attach("ADD"), "@CONFX@", 2, /"ipam\.frobnicate"/],
    ["invalid value -> 7", attach("ADD"), "@CONFMTU@", 7, /"mtu"/],
  ])("%s", async (_n, env, stdinTpl, code, msg) => {
    const stdin = stdinTpl
      .replace("@S@", sock)
      .replace("@CONF@", conf())
      .replace("@CONF9@", conf({}, "9.9.9"))
      .replace("@CONFX@", conf({ ipam: { type: "trellis-ipam", frobnicate: true } }))
      .replace("@CONFMTU@", conf({ mtu: 9 }));
    const r = await runShim(env, stdin);
    expect(r.code).toBe(1);
    expect(r.json?.code).toBe(code);
    expect(r.json?.msg as string).toMatch(msg);
    expect(r.stderr).toBe("");
  });

  it("finds the top-level agentSocket, not one nested deeper", async () => {
    const stdin = JSON.stringify({
      cniVersion: "1.1.0",
      name: "n",
      type: "trellis",
      runtimeConfig: { agentSocket: "/nonexistent/tC.sock" },
      agentSocket: sock,
    });
    const r = await runShim({ CNI_COMMAND: "STATUS" }, stdin);
    // Had the shim taken the nested path it would have answered 50 (no agent).
    expect(r.code).toBe(0);
  });

  it.each([
    ["\\/", (p: string) => p.replace(/\//g, "\\/")],
    ["\\u002f", (p: string) => p.replace(/\//g, "\\u002f")],
  ])("decodes %s escapes in agentSocket", async (_n, escape) => {
    const stdin = `{"cniVersion":"1.1.0","name":"n","type":"trellis","agentSocket":"${escape(sock)}"}`;
    expect(JSON.parse(stdin)).toMatchObject({ agentSocket: sock });
    const r = await runShim({ CNI_COMMAND: "STATUS" }, stdin);
    expect(r.code).toBe(0);
  });

  it("a large config (8 MiB) goes through whole", async () => {
    const stdin = conf({ args: { blob: "x".repeat(8 * 1024 * 1024) } });
    const r = await runShim({ ...attach("ADD"), CNI_CONTAINERID: "big1" }, stdin);
    expect(r.code).toBe(0);
    expect(r.json?.cniVersion).toBe("1.1.0");
    await runShim({ ...attach("DEL"), CNI_CONTAINERID: "big1" }, conf());
  });

  it("stdin over 16 MiB is an I/O failure (5) without contacting the agent", async () => {
    const r = await runShim(attach("ADD"), Buffer.alloc(16 * 1024 * 1024 + 10, 0x20));
    expect(r.code).toBe(1);
    expect(r.json?.code).toBe(5);
  });
});

describe("shim: stdin that is not a JSON object is code 6, answered by the shim", () => {
  // SPEC.md "Error" code 6: failed to decode content. Without its own check the
  // shim found no agentSocket in such stdin and reported the default socket
  // unreachable (code 11, or 50 for STATUS).
  const counting = new CountingSocket();
  beforeAll(() => counting.listen(join(dir, "count.sock")));
  afterAll(() => counting.close());

  it.each([
    ["empty stdin", "ADD", "", /stdin is empty/],
    [
      "plain text",
      "ADD",
      "hello",
      /unexpected character 'h' at byte 0 \(the network config must be an object\)/,
    ],
    ["a JSON array", "DEL", "[1,2]", /unexpected character '\[' at byte 0/],
    ["a JSON string", "CHECK", '"x"', /unexpected character '"' at byte 0/],
    [
      "truncated, naming a live agentSocket",
      "ADD",
      '{"cniVersion":"0.4.0","agentSocket":"@C@",',
      /end of input at byte \d+/,
    ],
    ["garbage after the object", "STATUS", '{"cniVersion":"1.1.0"} x', /unexpected character 'x' at byte 23/],
    ["a trailing comma", "GC", '{"cniVersion":"1.1.0",}', /unexpected character '}' at byte 22/],
    ["a bad escape", "ADD", '{"name":"a\\qb"}', /invalid escape 'q' at byte 11/],
    ["a raw control character in a string", "ADD", '{"name":"a\tb"}', /control character 0x09 at byte 10/],
    ["a leading zero", "ADD", '{"mtu":01500}', /unexpected character '1' at byte 8/],
    ["an unquoted key", "ADD", "{name:1}", /unexpected character 'n' at byte 1 \(expected a key\)/],
    [
      "too deep",
      "ADD",
      `{"a":${"[".repeat(5000)}${"]".repeat(5000)}}`,
      /nesting deeper than 4096 levels '\[' at byte 4100/,
    ],
  ])("%s (%s)", async (_n, command, stdinTpl, msg) => {
    const before = counting.connections;
    const stdin = stdinTpl.replace("@C@", counting.path);
    const r = await runShimPrivateRun({ ...attach(command), CNI_COMMAND: command }, stdin);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    expect(r.json).toEqual({
      cniVersion: "1.1.0",
      code: 6,
      msg: expect.stringMatching(/^failed to decode network config: stdin is not a JSON object: /),
      details: expect.any(String),
    });
    expect(r.json?.msg as string).toMatch(msg);
    expect(counting.connections).toBe(before);
  });

  it("well-formed objects of every JSON shape still go to the agent", async () => {
    const stdin = `{"cniVersion":"1.1.0","name":"n","type":"trellis","agentSocket":"${sock}",
      "args":{"a":[1,-2.5e+3,0,true,false,null,"\\u00e9\\n\\"",{},[]],"b":{"c":{}}}}`;
    expect(() => JSON.parse(stdin) as unknown).not.toThrow();
    const r = await runShim({ CNI_COMMAND: "STATUS" }, stdin);
    expect([r.code, r.stdout]).toEqual([0, ""]);
  });

  it("VERSION is still answered whatever stdin holds", async () => {
    const r = await runShimPrivateRun({ CNI_COMMAND: "VERSION" }, "not json");
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ cniVersion: "1.1.0" });
  });

  it("a JSON object without agentSocket goes to the default socket: code 11 naming it when absent", async () => {
    const r = await runShimPrivateRun(attach("ADD"), '{"cniVersion":"1.0.0","name":"n","type":"trellis"}');
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ cniVersion: "1.0.0", code: 11 });
    expect(r.json?.msg as string).toContain("trellis agent at /var/run/trellis/cni.sock: cannot connect");
  });

  it("a JSON object without agentSocket goes to the default socket: answered when an agent is there", async () => {
    const r = await runShimPrivateRun(
      { CNI_COMMAND: "STATUS" },
      '{"cniVersion":"1.1.0","name":"n","type":"trellis"}',
      sock,
    );
    expect([r.code, r.stdout]).toEqual([0, ""]);
  });
});

describe("shim when the agent cannot answer", () => {
  const gone = (): string => join(dir, "absent.sock");

  it("no server: code 11 naming the socket, in the config's version", async () => {
    const r = await runShim(attach("ADD"), conf({ agentSocket: gone() }, "0.4.0"));
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ cniVersion: "0.4.0", code: 11 });
    expect(r.json?.msg as string).toContain(gone());
  });

  it("no server, STATUS: code 50 naming the socket", async () => {
    const r = await runShim({ CNI_COMMAND: "STATUS" }, conf({ agentSocket: gone() }));
    expect(r.json).toMatchObject({ cniVersion: "1.1.0", code: 50 });
    expect(r.json?.msg as string).toContain(gone());
  });

  async function withServer(
    path: string,
    onConn: (s: Socket) => void,
    f: () => Promise<void>,
  ): Promise<void> {
    const srv: Server = createServer(onConn);
    await new Promise<void>((r) => srv.listen(path, r));
    const open = new Set<Socket>();
    srv.on("connection", (s) => open.add(s));
    try {
      await f();
    } finally {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  }

  it("a server that closes at once: code 11", async () => {
    const p = join(dir, "close.sock");
    await withServer(
      p,
      (s) => s.destroy(),
      async () => {
        const r = await runShim(attach("ADD"), conf({ agentSocket: p }));
        expect(r.json).toMatchObject({ code: 11 });
        expect(r.json?.msg as string).toMatch(new RegExp(`${p}.*(closed|send)`));
      },
    );
  });

  it("a server that closes in the middle of a reply: code 11", async () => {
    const p = join(dir, "half.sock");
    await withServer(
      p,
      (s) => s.once("data", () => s.end(Buffer.from('TRL1\0\0\0\0\0\0\0\x40{"cniV'))),
      async () => {
        const r = await runShim(attach("DEL"), conf({ agentSocket: p }));
        expect(r.json).toMatchObject({ code: 11 });
        expect(r.json?.msg as string).toMatch(/middle of a reply/);
      },
    );
  });

  it("a server that never answers: code 11 after the timeout", async () => {
    const p = join(dir, "mute.sock");
    await withServer(
      p,
      () => undefined,
      async () => {
        const r = await runShim(
          { ...attach("ADD"), TRELLIS_SHIM_TIMEOUT_MS: "300" },
          conf({ agentSocket: p }),
        );
        expect(r.json).toMatchObject({ code: 11 });
        expect(r.json?.msg as string).toMatch(/timeout/);
      },
    );
  });
});
