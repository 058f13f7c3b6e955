/**
 * `trellisctl lab up|down|status|probe|matrix`: flag parsing and output only;
 * the work is in lab/.
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import type { Io } from "../program.js";
import { CliError, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE } from "../exit-codes.js";
import { formatJson, formatTable, parseOutputFormat } from "../output.js";
import { CNI_MODES, type CniMode } from "../../lab/conflist.js";
import { parseDurationMs } from "../../lab/duration.js";
import { LabError } from "../../lab/lab-errors.js";
import { labDown } from "../../lab/lab-down.js";
import { labStatus } from "../../lab/lab-status.js";
import {
  DEFAULT_CONTROL_PLANE,
  DEFAULT_KUBELET,
  KUBELET_MODES,
  labUp,
  type KubeletMode,
} from "../../lab/lab-up.js";
import { CONTROL_PLANE_MODES, type ControlPlaneMode } from "../../lab/controlplane/control-plane.js";
import { formatMatrix, labMatrix } from "../../lab/matrix.js";
import { repoPaths } from "../../lab/repo-paths.js";
import { labProbe } from "../../lab/probe.js";
import { PROTOCOLS, type Protocol } from "../../lab/probe-result.js";
import { formatLabStatus } from "../../lab/status-text.js";
import { AGENT_MODES, DEFAULT_AGENT, type AgentMode } from "../../lab/nodes/chart-agent.js";

const DEFAULT_DIR = "./.lab";

function intArg(what: string, min: number, max: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${what} must be an integer`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${what} must be from ${min} to ${max}`);
    return n;
  };
}

const portArg = intArg("port", 1, 65535);

function collectPort(v: string, prev: number[] | undefined): number[] {
  return [...(prev ?? []), portArg(v)];
}

function protocolArg(v: string): Protocol {
  const p = v.toUpperCase();
  if (!(PROTOCOLS as readonly string[]).includes(p))
    throw new InvalidArgumentError("protocol must be TCP or UDP");
  return p as Protocol;
}

function collectProtocol(v: string, prev: Protocol[] | undefined): Protocol[] {
  return [...(prev ?? []), protocolArg(v)];
}

function durationArg(v: string): number {
  try {
    return parseDurationMs(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function outputOption(): Option {
  return new Option("-o, --output <format>", "output format").choices(["json", "table"]).default("table");
}

/** LabError kinds to the exit codes of cli/exit-codes.ts. */
async function lab<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof LabError) {
      const code = e.kind === "usage" ? EXIT_USAGE : e.kind === "not-found" ? EXIT_NOT_FOUND : EXIT_FAILURE;
      throw new CliError(e.message, code);
    }
    throw e;
  }
}

export function registerLab(program: Command, io: Io): void {
  const cmd = program
    .command("lab")
    .description("Run a local multi-node Trellis cluster in network namespaces");

  cmd
    .command("up")
    .description(
      "build a lab: API server, BIRD ToR, N node namespaces with trellis-node, containerd and the kubelet each",
    )
    .option("--nodes <n>", "number of nodes", intArg("--nodes", 1, 254), 3)
    .option("--dir <dir>", "lab directory", DEFAULT_DIR)
    .addOption(
      new Option("--cni <mode>", "node CNI: trellis (agent + shim, block IPAM) or ptp (reference plugins)")
        .choices([...CNI_MODES])
        .default("trellis"),
    )
    .option("--node-asn <asn>", "AS number of the nodes", intArg("--node-asn", 1, 4294967295))
    .option("--tor-asn <asn>", "AS number of the ToR", intArg("--tor-asn", 1, 4294967295))
    .option("--asn-per-node", "node i gets AS <node-asn> + i - 1 instead of one shared AS")
    .option(
      "--route-reflectors <n>",
      "the first N nodes are route reflectors and the node mesh is off",
      intArg("--route-reflectors", 0, 1000),
    )
    .option(
      "--bgp-password <pw>",
      "TCP MD5 password and BFD on the ToR sessions (Secret kube-system/bgp-password, BGPPeers, BIRD)",
    )
    .addOption(
      new Option(
        "--control-plane <kind>",
        "real (etcd + kube-apiserver + kube-controller-manager, built once by scripts/build-k8s) or embedded (lab/apiserver)",
      )
        .choices([...CONTROL_PLANE_MODES])
        .default(DEFAULT_CONTROL_PLANE),
    )
    .addOption(
      new Option(
        "--kubelet <kind>",
        `real (containerd + kubelet per node, built by scripts/build-k8s; needs --control-plane real) or standin (the lab's kubelet stand-in: fast pod churn, no node build) (default: ${DEFAULT_KUBELET}; standin under --control-plane embedded)`,
      ).choices([...KUBELET_MODES]),
    )
    .addOption(
      new Option(
        "--agent <kind>",
        "process (trellis-node started by the lab in each node) or chart (helm install of helm/trellis: the DaemonSet runs the agent from the image scripts/build-image builds; needs --kubelet real)",
      )
        .choices([...AGENT_MODES])
        .default(DEFAULT_AGENT),
    )
    .option(
      "--no-kube-proxy",
      "no kube-proxy in the nodes (default: kube-proxy in nftables mode on every node with the real control plane)",
    )
    .action(
      async (o: {
        nodes: number;
        dir: string;
        cni: CniMode;
        nodeAsn?: number;
        torAsn?: number;
        asnPerNode?: boolean;
        routeReflectors?: number;
        bgpPassword?: string;
        controlPlane: ControlPlaneMode;
        kubelet?: KubeletMode;
        agent: AgentMode;
        kubeProxy: boolean;
      }) => {
        const r = await lab(() =>
          labUp({
            dir: o.dir,
            nodes: o.nodes,
            cni: o.cni,
            ...(o.nodeAsn !== undefined ? { nodeAsn: o.nodeAsn } : {}),
            ...(o.torAsn !== undefined ? { torAsn: o.torAsn } : {}),
            asnPerNode: o.asnPerNode === true,
            ...(o.routeReflectors !== undefined ? { routeReflectors: o.routeReflectors } : {}),
            ...(o.bgpPassword !== undefined ? { bgpPassword: o.bgpPassword } : {}),
            controlPlane: o.controlPlane,
            ...(o.kubelet !== undefined ? { kubelet: o.kubelet } : {}),
            agent: o.agent,
            ...(o.kubeProxy ? {} : { kubeProxy: false }),
            progress: (l) => io.err(`lab: ${l}\n`),
          }),
        );
        io.out(
          `lab up: ${r.nodes.length} nodes in ${r.dir}, API server ${r.apiserverUrl}, kubeconfig ${r.kubeconfig}\n`,
        );
        if (o.cni === "trellis" && r.nodes.length >= 3) {
          io.out(
            `try:    kubectl --kubeconfig ${r.kubeconfig} apply -f ${repoPaths.examplePods}\n` +
              `        kubectl --kubeconfig ${r.kubeconfig} get pods -A -o wide; kubectl --kubeconfig ${r.kubeconfig} get ipamblocks\n`,
          );
        }
      },
    );

  cmd
    .command("down")
    .description("remove every process, namespace and file of a lab (also a half-built one)")
    .option("--dir <dir>", "lab directory", DEFAULT_DIR)
    .action(async (o: { dir: string }) => {
      const r = await lab(() => labDown(o.dir));
      io.out(
        `lab down: ${r.dir}: stopped ${r.stoppedProcesses} processes, deleted ${r.deletedNamespaces.length} namespaces, removed ${r.removedFiles.length} files\n`,
      );
    });

  cmd
    .command("status")
    .description("namespaces, addresses, sockets, logs and health of a lab")
    .option("--dir <dir>", "lab directory", DEFAULT_DIR)
    .addOption(outputOption())
    .action(async (o: { dir: string; output: string }) => {
      parseOutputFormat(o.output);
      const s = await lab(() => labStatus(o.dir));
      io.out(o.output === "json" ? formatJson(s) : formatLabStatus(s));
      if (!s.healthy) throw new CliError(`lab in ${s.dir} is not healthy`, EXIT_FAILURE);
    });

  cmd
    .command("probe")
    .description("connect from one pod to another; exit 0 when connected")
    .requiredOption("--from <ns/pod>", "source pod")
    .requiredOption("--to <ns/pod>", "target pod")
    .requiredOption("--port <port>", "target port", portArg)
    .option("--protocol <proto>", "TCP or UDP", protocolArg, "TCP" as Protocol)
    .option("--timeout <duration>", "give up after this long", durationArg, 1000)
    .addOption(new Option("--family <n>", "IP family of the target address").choices(["4", "6"]).default("4"))
    .option("--dir <dir>", "lab directory", DEFAULT_DIR)
    .addOption(outputOption())
    .action(
      async (o: {
        from: string;
        to: string;
        port: number;
        protocol: Protocol;
        timeout: number;
        family: string;
        dir: string;
        output: string;
      }) => {
        const r = await lab(() =>
          labProbe({
            dir: o.dir,
            from: o.from,
            to: o.to,
            port: o.port,
            protocol: o.protocol,
            timeoutMs: o.timeout,
            family: o.family === "6" ? 6 : 4,
          }),
        );
        io.out(
          o.output === "json"
            ? formatJson(r)
            : formatTable(
                ["from", "to", "address", "result", "reply"],
                [
                  [
                    r.from,
                    r.to,
                    `${r.protocol}/${r.ip.includes(":") ? `[${r.ip}]` : r.ip}:${r.port}`,
                    r.outcome,
                    r.reply ?? r.detail ?? "",
                  ],
                ],
              ),
        );
        if (r.outcome !== "connected")
          throw new CliError(`${r.from} -> ${r.to} ${r.protocol}/${r.port}: ${r.outcome}`, EXIT_FAILURE);
      },
    );

  cmd
    .command("matrix")
    .description("probe every pod pair on every declared port and print the truth tables")
    .option("--port <port>", "port to probe (repeatable; default: every declared containerPort)", collectPort)
    .option("--protocol <proto>", "TCP or UDP (repeatable; default both)", collectProtocol)
    .option("--timeout <duration>", "per-probe timeout", durationArg, 1000)
    .option("--parallel <n>", "probes in flight", intArg("--parallel", 1, 64), 8)
    .addOption(
      new Option("--family <n>", "IP family of the target addresses").choices(["4", "6"]).default("4"),
    )
    .option("--dir <dir>", "lab directory", DEFAULT_DIR)
    .addOption(outputOption())
    .action(
      async (o: {
        port?: number[];
        protocol?: Protocol[];
        timeout: number;
        parallel: number;
        family: string;
        dir: string;
        output: string;
      }) => {
        const r = await lab(() =>
          labMatrix({
            dir: o.dir,
            ...(o.port !== undefined ? { ports: o.port } : {}),
            protocols: o.protocol ?? [...PROTOCOLS],
            timeoutMs: o.timeout,
            parallel: o.parallel,
            family: o.family === "6" ? 6 : 4,
          }),
        );
        io.out(o.output === "json" ? formatJson(r) : formatMatrix(r));
        // The tables of the nodes that answered are printed; the run still fails for those that did not.
        if (r.nodeErrors.length > 0)
          throw new CliError(
            `lab matrix: not probed from the pods of ${r.nodeErrors.map((e) => e.node).join(", ")}`,
            EXIT_FAILURE,
          );
      },
    );
}
