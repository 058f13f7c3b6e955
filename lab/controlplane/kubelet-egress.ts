/**
 * How kube-apiserver, in the root network namespace, reaches the kubelets of
 * the lab's real nodes (exec, logs, port-forward) although the root namespace
 * has no route to a lab address (docs/machine.md, traffic rules): its
 * "cluster" egress goes through an HTTP CONNECT proxy on a unix socket
 * (EgressSelectorConfiguration, the mechanism konnectivity uses), and this
 * proxy runs each tunnel as `socat` entered into the network namespace of
 * the node that owns the address. TLS stays end to end: kube-apiserver
 * verifies the kubelet's serving certificate against the address it asked for.
 *
 * Pure: the request parsing, the node lookup, the egress configuration.
 * Edge: serveKubeletEgress.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, isIPv6, type Server, type Socket } from "node:net";
import { readLabState } from "../lab-state.js";
import { labLayout } from "../lab-layout.js";
import { commandInNetns } from "../netns.js";

/** The kubelet's API port (KubeletConfiguration `port`), the only one the proxy opens. */
export const KUBELET_PORT = 10250;
/** An HTTP request head larger than this is not a CONNECT from kube-apiserver. */
const MAX_HEAD = 8192;

export type ConnectRequest =
  { ok: true; host: string; port: number } | { ok: false; status: number; reason: string };

/**
 * The request line of `CONNECT host:port HTTP/1.1` (RFC 9110 §9.3.6: the
 * target is authority-form; an IPv6 literal in brackets, RFC 3986 §3.2.2).
 */
export function parseConnect(head: string): ConnectRequest {
  const line = head.split("\r\n")[0] ?? "";
  const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(line);
  if (m?.[1] === undefined) return { ok: false, status: 405, reason: "only CONNECT is served" };
  const t = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(m[1]);
  const host = t?.[1] ?? t?.[2];
  const port = Number(t?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535)
    return { ok: false, status: 400, reason: `bad CONNECT target ${m[1]}` };
  return { ok: true, host, port };
}

export interface EgressNode {
  netns: string;
  addresses: readonly string[];
}

/** The node namespace that owns `host` and may be dialed on `port` (the kubelet's), or why not. */
export function egressTarget(
  nodes: readonly EgressNode[],
  host: string,
  port: number,
): { netns: string } | { status: number; reason: string } {
  if (port !== KUBELET_PORT)
    return { status: 403, reason: `only the kubelet port ${KUBELET_PORT} is tunnelled` };
  const n = nodes.find((x) => x.addresses.includes(host));
  if (n === undefined) return { status: 404, reason: `${host} is no lab node's address` };
  return { netns: n.netns };
}

/** socat's address for a TCP connection to host:port, IPv6 literals bracketed. */
export function socatTcpAddress(host: string, port: number): string {
  return isIPv6(host) ? `TCP6:[${host}]:${port}` : `TCP4:${host}:${port}`;
}

/**
 * kube-apiserver's --egress-selector-config-file: "cluster" traffic (to
 * nodes, pods and Services) through the HTTP CONNECT proxy on `socket`;
 * control-plane and etcd traffic stays direct.
 */
export function egressSelectorConfig(socket: string): string {
  return [
    "apiVersion: apiserver.k8s.io/v1beta1",
    "kind: EgressSelectorConfiguration",
    "egressSelections:",
    "- name: cluster",
    "  connection:",
    "    proxyProtocol: HTTPConnect",
    "    transport:",
    "      uds:",
    `        udsName: ${JSON.stringify(socket)}`,
    "",
  ].join("\n");
}

/** The lab's nodes and their addresses, read from DIR/lab.json at each tunnel (nodes join after the proxy starts). */
function labNodes(labDir: string): EgressNode[] {
  const state = readLabState(labLayout(labDir).stateFile);
  return (state?.plan.nodes ?? []).map((n) => ({ netns: n.netns, addresses: [n.address4, n.address6] }));
}

/** The proxy on `socket`, for the lab in `labDir`; `log` gets one line per tunnel. */
export function serveKubeletEgress(socket: string, labDir: string, log: (l: string) => void): Server {
  rmSync(socket, { force: true });
  const server = createServer((client) => handle(client, labDir, log));
  server.listen(socket);
  return server;
}

function handle(client: Socket, labDir: string, log: (l: string) => void): void {
  let head = Buffer.alloc(0);
  const refuse = (status: number, reason: string): void => {
    log(`refused: ${status} ${reason}`);
    client.end(`HTTP/1.1 ${status} ${reason.replace(/[\r\n]/g, " ")}\r\nContent-Length: 0\r\n\r\n`);
  };
  client.on("error", () => client.destroy());
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) {
      if (head.length > MAX_HEAD) refuse(431, "request head too large");
      return;
    }
    client.off("data", onData);
    client.pause();
    const req = parseConnect(head.subarray(0, end).toString("latin1"));
    if (!req.ok) return refuse(req.status, req.reason);
    let target;
    try {
      target = egressTarget(labNodes(labDir), req.host, req.port);
    } catch (e) {
      return refuse(503, `lab state unreadable: ${(e as Error).message}`);
    }
    if (!("netns" in target)) return refuse(target.status, target.reason);
    const rest = head.subarray(end + 4);
    const [cmd, args] = commandInNetns(target.netns, ["socat", "STDIO", socatTcpAddress(req.host, req.port)]);
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "ignore"] });
    log(`tunnel ${req.host}:${req.port} in ${target.netns} (pid ${child.pid ?? "?"})`);
    client.write("HTTP/1.1 200 Connection established\r\n\r\n");
    if (rest.length > 0) child.stdin.write(rest);
    client.pipe(child.stdin);
    child.stdout.pipe(client);
    child.on("error", () => client.destroy());
    child.on("close", () => client.end());
    client.on("close", () => child.kill("SIGTERM"));
    client.resume();
  };
  client.on("data", onData);
}
