// The four benchmark targets, each started in the target namespace with the
// same shape of configuration: AS 65000 on 10.200.0.1, P passive eBGP peers,
// import everything, export nothing (the generator does not care, and it keeps
// every target to the same work: receive, select, install). For each: how to
// start it, how to read its RIB path count, and which process to weigh.
import { spawn, execFile } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { writeFileSync, readFileSync, existsSync, openSync, closeSync } from "node:fs";
import net from "node:net";
import { promisify } from "node:util";
import { join } from "node:path";
import { PROTO_TRELLIS_BGP } from "../../../net/route-ownership.js";

const execFileP = promisify(execFile);

export const TARGET_ADDR = "10.200.0.1";
export const TARGET_AS = 65000;
export const FIB_TABLE = 100;

export interface BenchPeer {
  address: string;
  asn: number;
}

export interface TargetContext {
  netns: string;
  dir: string;
  peers: BenchPeer[];
  /** install into the kernel table FIB_TABLE (targets that can) */
  fib: boolean;
  repoRoot: string;
}

export interface RunningTarget {
  /** processes whose peak RSS counts */
  pids(): number[];
  /** paths (prefix × peer) the RIB holds after import */
  ribCount(): Promise<number>;
  /** kernel proto to count FIB routes by; undefined = this target does not install routes here */
  fibProto?: string | undefined;
  stop(): Promise<void>;
}

export interface Target {
  name: string;
  version(): Promise<string>;
  start(ctx: TargetContext): Promise<RunningTarget>;
}

/**
 * A target that runs as `proc`: its pid counts for RSS (unless `r` says
 * otherwise) and it stops on SIGTERM, given 10 s to exit.
 */
function running(
  proc: ChildProcess,
  r: Omit<RunningTarget, "pids" | "stop"> & Partial<RunningTarget>,
): RunningTarget {
  return {
    pids: () => (proc.pid === undefined ? [] : [proc.pid]),
    async stop() {
      proc.kill("SIGTERM");
      await waitExit(proc, 10_000);
    },
    ...r,
  };
}

/** Waits (20 s at most) until `ask` resolves: the daemon answers its API. */
async function waitAnswers(ask: () => Promise<unknown>, what: string): Promise<void> {
  await waitForAsync(
    async () =>
      await ask().then(
        () => true,
        () => false,
      ),
    20_000,
    what,
  );
}

/** Writes a daemon's configuration `lines` to `name` in the run's directory; returns its path. */
function configFile(ctx: TargetContext, name: string, lines: readonly string[]): string {
  const file = join(ctx.dir, name);
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

function nsSpawn(ns: string, cmd: string, args: string[], logFile: string): ChildProcess {
  const log = openSync(logFile, "a");
  try {
    return spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", log, log] });
  } finally {
    closeSync(log);
  }
}

async function nsExec(ns: string, cmd: string, args: string[]): Promise<string> {
  const { stdout } = await execFileP("ip", ["netns", "exec", ns, cmd, ...args], { maxBuffer: 64 << 20 });
  return stdout;
}

function waitExit(p: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    const t = setTimeout(() => {
      p.kill("SIGKILL");
      resolve();
    }, ms);
    p.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args);
    return (stdout || stderr).split("\n")[0]!.trim();
  } catch (e) {
    const s = (e as { stdout?: string; stderr?: string }).stderr ?? "";
    return s.split("\n")[0]!.trim();
  }
}

// ---------------------------------------------------------------- trellis-bgp

export const trellis: Target = {
  name: "trellis-bgp",
  async version() {
    return `node ${process.versions.node}`;
  },
  async start(ctx) {
    const sock = join(ctx.dir, "trellis-bgp.sock");
    const cfg = {
      asn: TARGET_AS,
      routerId: TARGET_ADDR,
      listen: { address: TARGET_ADDR, port: 179 },
      holdTime: 180,
      fib: { enabled: ctx.fib, table: FIB_TABLE, ecmp: true },
      control: { socket: sock },
      peers: ctx.peers.map((p) => ({
        address: p.address,
        asn: p.asn,
        passive: true,
        families: ["ipv4-unicast"],
        export: "reject",
      })),
    };
    const file = join(ctx.dir, "trellis-bgp.json");
    writeFileSync(file, JSON.stringify(cfg, null, 2));
    const proc = nsSpawn(
      ctx.netns,
      process.execPath,
      [join(ctx.repoRoot, "dist/bgp/bin/trellis-bgp.js"), "--config", file, "--log-level", "warn"],
      join(ctx.dir, "trellis-bgp.log"),
    );
    await waitFor(() => existsSync(sock), 20_000, "trellis-bgp control socket");
    return running(proc, {
      fibProto: ctx.fib ? String(PROTO_TRELLIS_BGP) : undefined,
      async ribCount() {
        const peers = (await control(sock, "peers")) as { prefixes: { accepted: number } }[];
        return peers.reduce((n, p) => n + p.prefixes.accepted, 0);
      },
    });
  },
};

/** One request on trellis-bgp's control socket (JSON lines, bgp/control/protocol.ts). */
function control(path: string, method: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let buf = "";
    s.setEncoding("utf8");
    s.on("connect", () => s.write(JSON.stringify({ id: 1, method }) + "\n"));
    s.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      s.destroy();
      const r = JSON.parse(buf.slice(0, nl)) as {
        ok: boolean;
        result?: unknown;
        error?: { message: string };
      };
      if (r.ok) resolve(r.result);
      else reject(new Error(r.error?.message ?? "control error"));
    });
    s.on("error", reject);
  });
}

// ---------------------------------------------------------------- BIRD

export const bird: Target = {
  name: "bird",
  version: () => firstLine("bird", ["--version"]),
  async start(ctx) {
    const sock = join(ctx.dir, "bird.ctl");
    const lines = [
      `router id ${TARGET_ADDR};`,
      "protocol device { }",
      ctx.fib
        ? `protocol kernel { kernel table ${FIB_TABLE}; learn off; merge paths on; ipv4 { import none; export all; }; }`
        : "",
      `template bgp gen { local ${TARGET_ADDR} as ${TARGET_AS}; passive on; hold time 180; ipv4 { import all; export none; }; }`,
      ...ctx.peers.map((p, i) => `protocol bgp g${i} from gen { neighbor ${p.address} as ${p.asn}; }`),
    ];
    const file = configFile(ctx, "bird.conf", lines);
    const proc = nsSpawn(ctx.netns, "bird", ["-f", "-c", file, "-s", sock], join(ctx.dir, "bird.log"));
    await waitFor(() => existsSync(sock), 20_000, "bird control socket");
    return running(proc, {
      fibProto: ctx.fib ? "bird" : undefined,
      async ribCount() {
        const out = await nsExec(ctx.netns, "birdc", ["-s", sock, "show", "route", "count"]);
        // "1000 of 1000 routes for 1000 networks in table master4"
        const m = /(\d+) of (\d+) routes/.exec(out);
        return m === null ? 0 : Number(m[2]);
      },
    });
  },
};

// ---------------------------------------------------------------- GoBGP

export const gobgp: Target = {
  name: "gobgp",
  version: () => firstLine("gobgpd", ["--version"]),
  async start(ctx) {
    const api = "127.0.0.1:50071";
    const toml = [
      "[global.config]",
      `  as = ${TARGET_AS}`,
      `  router-id = "${TARGET_ADDR}"`,
      "  port = 179",
      `  local-address-list = ["${TARGET_ADDR}"]`,
      "[global.apply-policy.config]",
      '  default-import-policy = "accept-route"',
      '  default-export-policy = "reject-route"',
      ...ctx.peers.flatMap((p) => [
        "[[neighbors]]",
        "  [neighbors.config]",
        `    neighbor-address = "${p.address}"`,
        `    peer-as = ${p.asn}`,
        "  [neighbors.timers.config]",
        "    hold-time = 180",
        "  [neighbors.transport.config]",
        "    passive-mode = true",
        "  [[neighbors.afi-safis]]",
        "    [neighbors.afi-safis.config]",
        '      afi-safi-name = "ipv4-unicast"',
      ]),
    ];
    const file = configFile(ctx, "gobgpd.toml", toml);
    const proc = nsSpawn(
      ctx.netns,
      "gobgpd",
      ["-f", file, "--api-hosts", api, "--pprof-disable", "-l", "warn", "--disable-stdlog"],
      join(ctx.dir, "gobgpd.log"),
    );
    const [host, port] = api.split(":") as [string, string];
    const summary = async (): Promise<number> => {
      const out = await nsExec(ctx.netns, "gobgp", [
        "-u",
        host,
        "-p",
        port,
        "global",
        "rib",
        "summary",
        "-a",
        "ipv4",
      ]);
      // "Table ipv4-unicast\nDestination: 1000, Path: 1000"
      const m = /Path: (\d+)/.exec(out);
      return m === null ? 0 : Number(m[1]);
    };
    await waitAnswers(summary, "gobgpd API");
    return running(proc, {
      ribCount: summary,
    });
  },
};

// ---------------------------------------------------------------- FRR

export const frr: Target = {
  name: "frr-bgpd",
  version: () => firstLine("/usr/lib/frr/bgpd", ["--version"]),
  async start(ctx) {
    const vty = join(ctx.dir, "frr");
    await execFileP("mkdir", ["-p", vty]);
    const conf = [
      "frr defaults traditional",
      "hostname bench",
      "route-map NONE deny 10",
      `router bgp ${TARGET_AS}`,
      ` bgp router-id ${TARGET_ADDR}`,
      " no bgp ebgp-requires-policy",
      ...ctx.peers.flatMap((p) => [
        ` neighbor ${p.address} remote-as ${p.asn}`,
        ` neighbor ${p.address} passive`,
        ` neighbor ${p.address} timers 60 180`,
      ]),
      " address-family ipv4 unicast",
      ...ctx.peers.flatMap((p) => [
        `  neighbor ${p.address} activate`,
        `  neighbor ${p.address} route-map NONE out`,
      ]),
      " exit-address-family",
    ];
    const file = configFile(ctx, "bgpd.conf", conf);
    // -Z: no zebra, so no FIB; -S: stay root, -l: listen on the target address
    const proc = nsSpawn(
      ctx.netns,
      "/usr/lib/frr/bgpd",
      [
        "-f",
        file,
        "-i",
        join(vty, "bgpd.pid"),
        "--vty_socket",
        vty,
        "-Z",
        "-S",
        "-l",
        TARGET_ADDR,
        "-z",
        join(vty, "zserv.api"),
      ],
      join(ctx.dir, "bgpd.log"),
    );
    const count = async (): Promise<number> => {
      const out = await nsExec(ctx.netns, "vtysh", [
        "--vty_socket",
        vty,
        "-d",
        "bgpd",
        "-c",
        "show bgp ipv4 unicast summary json",
      ]);
      const j = JSON.parse(out) as {
        ipv4Unicast?: { peers?: Record<string, { pfxRcd?: number }> };
        peers?: Record<string, { pfxRcd?: number }>;
      };
      const peers = j.ipv4Unicast?.peers ?? j.peers ?? {};
      return Object.values(peers).reduce((n, p) => n + (p.pfxRcd ?? 0), 0);
    };
    await waitAnswers(count, "bgpd vty");
    return running(proc, {
      pids: () => {
        try {
          return [Number(readFileSync(join(vty, "bgpd.pid"), "utf8").trim())];
        } catch {
          return proc.pid === undefined ? [] : [proc.pid];
        }
      },
      ribCount: count,
    });
  },
};

export const TARGETS: Target[] = [trellis, bird, gobgp, frr];

export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitForAsync(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
