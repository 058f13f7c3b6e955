/**
 * Is a lab node's trellis-node ready? Its health server listens on loopback
 * inside the node namespace (nothing of the lab is reachable from the root
 * namespace, docs/machine.md), so the probe is one HTTP/1.0 GET through `socat`
 * entered into that namespace. The reply parser is pure.
 */
import { commandInNetns } from "./netns.js";
import { runCommand } from "./run-command.js";

/** Where the lab tells every agent to serve /healthz, /readyz and /metrics (its own netns). */
export const AGENT_HEALTH_ADDRESS = "127.0.0.1:9099";

export interface Readiness {
  ready: boolean;
  /** "ok", or why not: the agent's 503 reason, or why it did not answer */
  detail: string;
}

/** The status line and body of a raw HTTP/1.x reply; undefined if it is not one. */
export function parseHttpReply(raw: string): { status: number; body: string } | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r?\n/.exec(raw);
  if (m === null) return undefined;
  const sep = raw.search(/\r?\n\r?\n/);
  const body = sep < 0 ? "" : raw.slice(sep).replace(/^\r?\n\r?\n/, "");
  return { status: Number(m[1]), body };
}

/** /readyz reply -> readiness (200 ready; 503 carries the agent's reason). */
export function readinessFromReply(raw: string): Readiness {
  const r = parseHttpReply(raw);
  if (r === undefined) return { ready: false, detail: raw.trim() === "" ? "no reply" : "not an HTTP reply" };
  const body = r.body.trim();
  if (r.status === 200) return { ready: true, detail: body || "ok" };
  return { ready: false, detail: `/readyz ${r.status}${body !== "" ? `: ${body}` : ""}` };
}

export async function agentReadiness(
  netns: string,
  address = AGENT_HEALTH_ADDRESS,
  timeoutMs = 3000,
): Promise<Readiness> {
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i).replace(/^\[|\]$/g, "");
  const port = address.slice(i + 1);
  const secs = String(Math.max(1, Math.round(timeoutMs / 1000)));
  const target = host.includes(":") ? `TCP6:[${host}]:${port}` : `TCP4:${host}:${port}`;
  try {
    const r = await runCommand(
      ...commandInNetns(netns, ["socat", "-t", secs, "-T", secs, "-", `${target},connect-timeout=${secs}`]),
      { input: "GET /readyz HTTP/1.0\r\nHost: trellis-node\r\n\r\n", timeoutMs: timeoutMs + 2000 },
    );
    // -t: after our request's EOF, wait that long for the reply (socat's default is 0.5 s).
    if (r.stdout === "" && r.code === 0)
      return { ready: false, detail: `${address}: no reply within ${secs} s` };
    if (r.code !== 0 && r.stdout === "") {
      const why = /Connection refused/i.test(r.stderr)
        ? "connection refused"
        : r.signal !== null
          ? "no reply before the timeout"
          : r.stderr.trim().split("\n").pop() || `socat exit ${r.code}`;
      return { ready: false, detail: `${address}: ${why}` };
    }
    return readinessFromReply(r.stdout);
  } catch (e) {
    return { ready: false, detail: `${address}: ${(e as Error).message}` };
  }
}
