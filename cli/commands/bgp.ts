/**
 * `trellisctl bgp peers|routes`: asks a running trellis-bgp or trellis-node
 * over its control socket and prints the answer. `--node NAME --dir LAB`
 * picks that lab node's agent socket (bgp.sock beside its CNI socket,
 * agent/bgp/control-socket.ts). `bgp peers --node NAME` without `--dir`
 * reads the sessions that node's agent publishes in its TrellisNodeStatus
 * instead (through the API server, any kubeconfig); `routes` always needs a
 * socket (the status carries route counts, not the Loc-RIB), so `routes
 * --node` reads the lab in `--dir` (default ./.lab). No logic of its own.
 */
import type { Command } from "commander";
import type { Io } from "../program.js";
import { CliError, EXIT_FAILURE, EXIT_NOT_FOUND } from "../exit-codes.js";
import { formatJson, formatTable, parseOutputFormat } from "../output.js";
import {
  ControlClientError,
  DEFAULT_CONTROL_SOCKET,
  fetchPeers,
  fetchRoutes,
} from "../../bgp/control/client.js";
import type { PeerStatus, RouteStatus } from "../../bgp/control/protocol.js";
import type { BgpSessionStatus } from "../../crds/node-status.js";
import { existsSync } from "node:fs";
import { controlSocketPath } from "../../agent/bgp/control-socket.js";
import { resolveLabDir } from "../../lab/lab-dir.js";
import { labLayout } from "../../lab/lab-layout.js";
import { kubeConfig, withKubeClient } from "./ipam.js";
import { readNodeStatus } from "./status.js";

interface Opts {
  socket: string;
  output: string;
  node?: string;
  kubeconfig?: string;
  dir?: string;
}

/** The default lab dir of `trellisctl lab` (cli/commands/lab.ts). */
const DEFAULT_LAB_DIR = "./.lab";

/** The control socket of lab node `node`'s agent in the lab at `dir`; exit 3 when the lab has no such node. */
function labNodeSocket(dir: string, node: string): string {
  const L = labLayout(resolveLabDir(dir));
  const N = L.node(node);
  if (!existsSync(N.dir))
    throw new CliError(`node ${node}: not a node of the lab in ${L.dir}`, EXIT_NOT_FOUND);
  return controlSocketPath(N.agentSocket, undefined);
}

export function registerBgp(program: Command, io: Io): void {
  const bgp = program.command("bgp").description("Show the BGP speaker's sessions and routes");
  const common = (c: Command): Command =>
    c
      .option("--socket <path>", "control socket of trellis-bgp", DEFAULT_CONTROL_SOCKET)
      .option("-o, --output <format>", "json|table", (v: string) => parseOutputFormat(v), "table");
  common(bgp.command("peers").description("BGP sessions: state, uptime, capabilities, prefix counts"))
    .option(
      "--node <name>",
      "read the sessions this node's agent publishes (TrellisNodeStatus) instead of a socket",
    )
    .option("--kubeconfig <file>", "with --node: kubeconfig (default: $KUBECONFIG, ~/.kube/config)")
    .option("--dir <dir>", "with --node: ask that node's agent over its socket in this lab instead")
    .action(async (o: Opts) => {
      if (o.node !== undefined && o.dir === undefined) {
        const node = o.node;
        const s = await withKubeClient(kubeConfig(o.kubeconfig), (client) => readNodeStatus(client, node));
        if (s.bgp === undefined)
          throw new CliError(
            `node ${o.node}: its agent publishes no BGP status (no BGP speaker)`,
            EXIT_NOT_FOUND,
          );
        io.out(o.output === "json" ? formatJson(s.bgp.sessions) : nodeSessionsTable(s.bgp.sessions));
        return;
      }
      const socket = o.node !== undefined && o.dir !== undefined ? labNodeSocket(o.dir, o.node) : o.socket;
      const peers = await call(() => fetchPeers(socket));
      io.out(o.output === "json" ? formatJson(peers) : peersTable(peers));
    });
  common(bgp.command("routes").description("The Loc-RIB: best paths and why they won"))
    .option("--node <name>", "ask this lab node's agent (its socket in --dir) instead of --socket")
    .option("--dir <dir>", "with --node: the lab directory", DEFAULT_LAB_DIR)
    .action(async (o: Opts) => {
      const socket = o.node !== undefined ? labNodeSocket(o.dir ?? DEFAULT_LAB_DIR, o.node) : o.socket;
      const routes = await call(() => fetchRoutes(socket));
      io.out(o.output === "json" ? formatJson(routes) : routesTable(routes));
    });
}

async function call<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ControlClientError) throw new CliError(e.message, EXIT_FAILURE);
    throw e;
  }
}

function uptime(s: number | undefined): string {
  if (s === undefined) return "-";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}h${String(m).padStart(2, "0")}m${String(s % 60).padStart(2, "0")}s`;
}

function peersTable(peers: PeerStatus[]): string {
  return formatTable(
    [
      "peer",
      "asn",
      "type",
      "state",
      "uptime",
      "rcvd",
      "accepted",
      "advertised",
      "capabilities",
      "last error",
    ],
    peers.map((p) => [
      p.address,
      p.asn,
      p.type,
      p.state,
      uptime(p.uptimeSeconds),
      p.prefixes.received,
      p.prefixes.accepted,
      p.prefixes.advertised,
      p.capabilities.length ? p.capabilities : "-",
      p.lastError ?? "-",
    ]),
  );
}

function nodeSessionsTable(sessions: readonly BgpSessionStatus[]): string {
  return formatTable(
    ["peer", "kind", "state", "uptime", "rcvd", "accepted", "advertised"],
    sessions.map((p) => [
      p.peer,
      p.kind,
      p.state,
      uptime(p.uptimeSeconds),
      p.prefixesReceived ?? "-",
      p.prefixesAccepted ?? "-",
      p.prefixesAdvertised ?? "-",
    ]),
  );
}

export function routesTable(routes: RouteStatus[]): string {
  const rows: unknown[][] = [];
  for (const r of routes) {
    // The best path first, so that every other path sits under its prefix.
    const paths = [...r.paths.filter((p) => p.best), ...r.paths.filter((p) => !p.best)];
    for (const [i, p] of paths.entries()) {
      rows.push([
        i === 0 ? r.prefix : "",
        p.best ? "*" : p.multipath ? "=" : "",
        p.nextHop ?? "-",
        p.source,
        p.asPath || "-",
        p.localPref ?? "-",
        p.med ?? "-",
        [...p.communities, ...p.largeCommunities].join(" ") || "-",
        p.best ? r.reason : p.stale ? "stale" : "",
      ]);
    }
  }
  return formatTable(
    ["prefix", "best", "next hop", "from", "as path", "lpref", "med", "communities", "reason"],
    rows,
  );
}
