/**
 * "Who did that connection come from?" for tests in the lab: a TCP listener
 * in any lab namespace (the ToR, a pod, a node) that answers every
 * connection with the peer address it saw, i.e. the source address after
 * any NAT on the way; and a client that connects from another namespace and
 * returns that answer. socat (Debian's, docs/machine.md) does both: a
 * listener that forks, runs `echo $SOCAT_PEERADDR` per connection, and a
 * one-shot client with a timeout.
 *
 * Only namespaces of the lab are used (docs/machine.md, traffic rules).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { canonicalAddress } from "../net/address.js";

export interface PeerEcho {
  readonly netns: string;
  readonly port: number;
  /** Ends the listener (and its forked children). */
  stop(): Promise<void>;
}

function exec(args: string[], timeoutMs: number): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile("ip", args, { timeout: timeoutMs }, (e, out, err) =>
      resolve({ code: e === null ? 0 : typeof e.code === "number" ? e.code : 1, out, err }),
    );
  });
}

async function listening(netns: string, port: number): Promise<boolean> {
  const r = await exec(["netns", "exec", netns, "ss", "-Htln", `sport = :${port}`], 5_000);
  return r.code === 0 && r.out.trim() !== "";
}

/**
 * Starts the listener in `netns` on `port`, for both families (one IPv6
 * socket with `ipv6only=0`; IPv4 peers are reported as plain dotted quads).
 * Resolves once the port is listening.
 */
export async function startPeerEcho(netns: string, port: number): Promise<PeerEcho> {
  const child: ChildProcess = spawn(
    "ip",
    [
      "netns",
      "exec",
      netns,
      "socat",
      `TCP6-LISTEN:${port},ipv6only=0,reuseaddr,fork`,
      "SYSTEM:echo $SOCAT_PEERADDR",
    ],
    // Its own process group, so stop() ends the forked children too.
    { stdio: "ignore", detached: true },
  );
  let exited = false;
  child.on("exit", () => (exited = true));
  const deadline = Date.now() + 10_000;
  while (!(await listening(netns, port))) {
    if (exited || Date.now() > deadline) {
      if (!exited && child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
      throw new Error(`peer echo on ${netns}:${port} did not start`);
    }
    await sleep(50);
  }
  return {
    netns,
    port,
    stop: async () => {
      if (exited || child.pid === undefined) return;
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      process.kill(-child.pid, "SIGTERM");
      await Promise.race([gone, sleep(2_000)]);
    },
  };
}

/**
 * socat's `$SOCAT_PEERADDR` (IPv6 written out in full, in brackets) ->
 * canonical text (RFC 5952); an IPv4 peer on the dual-stack socket
 * (`::ffff:a.b.c.d`) -> `a.b.c.d`.
 */
export function normalizePeer(text: string): string {
  const t = text.trim().replace(/^\[|\]$/g, "");
  const c = canonicalAddress(t);
  if (typeof c !== "string") return t;
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(c);
  return m?.[1] ?? c;
}

/**
 * Connects from `fromNetns` to `address`:`port` (a peer echo) and returns
 * the source address the listener saw. Throws when the connection fails.
 */
export async function peerAddressSeen(
  fromNetns: string,
  address: string,
  port: number,
  timeoutMs = 5_000,
): Promise<string> {
  const target = address.includes(":") ? `TCP6:[${address}]:${port}` : `TCP4:${address}:${port}`;
  const secs = String(Math.max(1, Math.round(timeoutMs / 1000)));
  const r = await exec(
    ["netns", "exec", fromNetns, "socat", "-T", secs, "-u", `${target},connect-timeout=${secs}`, "STDOUT"],
    timeoutMs + 2_000,
  );
  const seen = normalizePeer(r.out);
  if (r.code !== 0 || seen === "")
    throw new Error(`connect ${fromNetns} -> ${address}:${port} failed: ${r.err.trim() || `exit ${r.code}`}`);
  return seen;
}
