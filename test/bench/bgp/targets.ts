// The four benchmark targets, each started in the target namespace with the
// same shape of configuration: AS 65000 on 10.200.0.1, P passive eBGP peers,
// import everything, export nothing (the generator does not care, and it keeps
// every target to the same work: receive, select, install). For each: how to
// start it with kernel export off (the RIB column) or on (the FIB column, the
// three that have one), how its Loc-RIB is read, and which processes to weigh.
//
// Loc-RIB reads (the RIB milestone), each through the daemon's own cheapest
// interface, from the host namespace where the interface allows it:
//   trellis-bgp  its control socket (a unix socket: no namespace needed), method
//                `peers`, sum of prefixes.accepted. That counts Adj-RIB-In paths
//                after import policy; the decision process for them runs in the
//                same event-loop turn (speaker.schedule: setImmediate), so the
//                count leads the Loc-RIB by at most one turn. The socket's only
//                exact Loc-RIB read is `routes`, a full JSON dump (O(N) bytes per
//                poll, hundreds of MB at 1M), which would measure the dump.
//   BIRD         `birdc -s <ctl> show route count` on its control socket (unix,
//                no `ip netns exec`): routes in master4, which BIRD fills with the
//                best route selected on import (nest/rt-table.c rte_recalculate).
//   GoBGP        `gobgp --target unix://<sock> global rib summary`: gobgpd's gRPC
//                API on a unix socket (no `ip netns exec`), paths in the global
//                (Loc-)RIB.
//   FRR bgpd     `vtysh --vty_socket <dir> -d bgpd -c "show bgp ipv4 unicast
//                neighbors X prefix-counts json"` (one vtysh for all peers):
//                "PfxCt Best Selected", paths with BGP_PATH_SELECTED, set by
//                bgpd's decision work queue; pfxRcd (used before) is counted on
//                receipt, before best-path selection.
// FIB (kernel export on): trellis-bgp its FIB (rtnetlink from its own process, proto 202,
// table 100), BIRD its kernel protocol (proto bird, table 100), FRR bgpd with
// zebra (proto bgp, main table). GoBGP has no FIB of its own (it would need
// FRR's zebra), so it has no FIB figure.
import { spawn, execFile } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import {
  writeFileSync,
  readFileSync,
  readdirSync,
  existsSync,
  openSync,
  closeSync,
  chmodSync,
} from "node:fs";
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
  /** export to the kernel (the FIB column); false: no kernel export at all (the RIB column) */
  fib: boolean;
  repoRoot: string;
  /** extra node flags for trellis-bgp (profiling: --cpu-prof, --heap-prof) */
  nodeArgs?: string[];
}

export interface RunningTarget {
  /** processes whose peak RSS counts */
  pids(): number[];
  /** paths in the Loc-RIB (see the header for what each target counts) */
  ribCount(): Promise<number>;
  stop(): Promise<void>;
}

export interface Target {
  name: string;
  /** how ribCount reads the Loc-RIB (reported with the results) */
  ribPoll: string;
  /** kernel route protocol (number) of the routes it installs; absent: it has no FIB */
  fibProto?: number;
  /** how it installs routes (reported with the results) */
  fibPath?: string;
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

/** The node flags on a script's `#!/usr/bin/env -S node FLAGS` line ([] for a plain `node`). */
export function shebangNodeFlags(script: string): string[] {
  const first = readFileSync(script, "utf8").split("\n", 1)[0] ?? "";
  const m = /^#!\/usr\/bin\/env -S node((?: --[^ ]+)*)\s*$/.exec(first);
  return m === null ? [] : m[1]!.split(" ").filter((a) => a !== "");
}

function nsSpawn(ns: string, cmd: string, args: string[], logFile: string): ChildProcess {
  const log = openSync(logFile, "a");
  try {
    return spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", log, log] });
  } finally {
    closeSync(log);
  }
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
  ribPoll: "control socket `peers` (in the bench process, no exec)",
  fibProto: PROTO_TRELLIS_BGP,
  fibPath: "its FIB: rtnetlink batches from its own process, table 100",
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
    const bin = join(ctx.repoRoot, "dist/bgp/bin/trellis-bgp.js");
    const proc = nsSpawn(
      ctx.netns,
      process.execPath,
      [
        // the node flags of the daemon's own `#!/usr/bin/env -S node ...` line, as when run as a command
        ...shebangNodeFlags(bin),
        ...(ctx.nodeArgs ?? []),
        bin,
        "--config",
        file,
        "--log-level",
        "warn",
      ],
      join(ctx.dir, "trellis-bgp.log"),
    );
    await waitFor(() => existsSync(sock), 20_000, "trellis-bgp control socket");
    return running(proc, {
      // any child counts too (there is none since the FIB moved to rtnetlink)
      pids: () => (proc.pid === undefined ? [] : withChildren(proc.pid)),
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
  ribPoll: "birdc on its control socket (exec, no netns)",
  fibProto: 12, // "bird" in /etc/iproute2/rt_protos
  fibPath: "kernel protocol, table 100",
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
      async ribCount() {
        // the control socket is a file: reachable without entering the namespace
        const { stdout: out } = await execFileP("birdc", ["-s", sock, "show", "route", "count"]);
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
  ribPoll: "gobgp CLI on gobgpd's gRPC unix socket (exec, no netns)",
  version: () => firstLine("gobgpd", ["--version"]),
  async start(ctx) {
    // a unix socket, so the CLI reaches the API without entering the namespace
    const api = `unix://${join(ctx.dir, "gobgpd.sock")}`;
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
    const summary = async (): Promise<number> => {
      const { stdout: out } = await execFileP("gobgp", [
        "--target",
        api,
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
  ribPoll: "vtysh on bgpd's vty socket, prefix-counts json (exec, no netns)",
  fibProto: 186, // "bgp" in /etc/iproute2/rt_protos: zebra's protocol for BGP routes
  fibPath: "zebra (netlink dataplane), main table",
  version: () => firstLine("/usr/lib/frr/bgpd", ["--version"]),
  async start(ctx) {
    const vty = join(ctx.dir, "frr");
    await execFileP("mkdir", ["-p", vty]);
    const zserv = join(vty, "zserv.api");
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
    // With the FIB: zebra first (bgpd registers with it on start), as the
    // packaged daemons run it: user frr (zebra insists its user be in the vty
    // group frrvty, which root is not; it keeps CAP_NET_ADMIN), so the run
    // dir is opened to it and the vty dir is its own; no TCP vty (-P 0); the
    // netlink receive buffer FRR's packaged daemons file gives zebra (-s 90000000).
    let zebra: ChildProcess | undefined;
    if (ctx.fib) {
      chmodSync(ctx.dir, 0o755);
      await execFileP("chown", ["frr:frr", vty]);
      const zconf = configFile(ctx, "zebra.conf", ["hostname bench"]);
      zebra = nsSpawn(
        ctx.netns,
        "/usr/lib/frr/zebra",
        [
          ...["-f", zconf, "-i", join(vty, "zebra.pid"), "--vty_socket", vty, "-z", zserv],
          ...["-u", "frr", "-g", "frr", "-P", "0", "-s", "90000000"],
        ],
        join(ctx.dir, "zebra.log"),
      );
      await waitFor(() => existsSync(zserv), 20_000, "zebra socket");
    }
    // -Z (RIB column): no zebra, so nothing leaves bgpd; -S: stay root; -l: listen on the target address
    const proc = nsSpawn(
      ctx.netns,
      "/usr/lib/frr/bgpd",
      [
        ...["-f", file, "-i", join(vty, "bgpd.pid"), "--vty_socket", vty, "-P", "0"],
        ...(ctx.fib ? [] : ["-Z"]),
        ...["-S", "-l", TARGET_ADDR, "-z", zserv],
      ],
      join(ctx.dir, "bgpd.log"),
    );
    const vtysh = async (cmds: string[]): Promise<string> => {
      const args = ["--vty_socket", vty, "-d", "bgpd", ...cmds.flatMap((c) => ["-c", c])];
      return (await execFileP("vtysh", args, { maxBuffer: 16 << 20 })).stdout;
    };
    const count = async (): Promise<number> => {
      const out = await vtysh(
        ctx.peers.map((p) => `show bgp ipv4 unicast neighbors ${p.address} prefix-counts json`),
      );
      // one JSON object per peer: {"prefixCountsFor":..., "ribTableWalkCounters":{"PfxCt Best Selected":N,...}}
      let n = 0;
      for (const m of out.matchAll(/"PfxCt Best Selected":\s*(\d+)/g)) n += Number(m[1]);
      return n;
    };
    await waitAnswers(() => vtysh(["show bgp summary json"]), "bgpd vty");
    const pidOf = (f: string): number[] => {
      try {
        return [Number(readFileSync(join(vty, f), "utf8").trim())];
      } catch {
        return [];
      }
    };
    return running(proc, {
      pids: () => [...pidOf("bgpd.pid"), ...pidOf("zebra.pid")],
      ribCount: count,
      async stop() {
        proc.kill("SIGTERM");
        await waitExit(proc, 10_000);
        if (zebra) {
          zebra.kill("SIGTERM");
          await waitExit(zebra, 10_000);
        }
      },
    });
  },
};

/** `pid` and its direct children (/proc/PID/task/TID/children), e.g. a FIB helper process. */
function withChildren(pid: number): number[] {
  const out = [pid];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`))
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/))
        if (c !== "") out.push(Number(c));
  } catch {
    /* exited */
  }
  return out;
}

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
