/**
 * Turning what the probe client (socat inside the source pod's namespace)
 * saw into a verdict. Pure.
 */
export type ProbeOutcome = "connected" | "refused" | "timed out" | "unreachable" | "error";
export type Protocol = "TCP" | "UDP";
export const PROTOCOLS: readonly Protocol[] = ["TCP", "UDP"];

export interface ProbeObservation {
  protocol: Protocol;
  /** first line the server sent, if any */
  reply: string | undefined;
  stderr: string;
  exitCode: number | null;
  /** we gave up waiting (the process was killed at the deadline) */
  deadline: boolean;
}

export interface ProbeVerdict {
  outcome: ProbeOutcome;
  reply?: string;
  detail?: string;
}

/**
 * TCP: a refused connect is an RST (ECONNREFUSED); silence until the connect
 * timeout is "timed out". UDP: a closed port answers with ICMP port
 * unreachable, which the socket reports as ECONNREFUSED on read (RFC 1122
 * §4.1.3.3); no reply within the timeout is "timed out". ICMP host/admin
 * unreachable (a reject rule) is "unreachable".
 */
export function classifyProbe(o: ProbeObservation): ProbeVerdict {
  if (o.reply !== undefined) return { outcome: "connected", reply: o.reply };
  const err = o.stderr;
  const detail = lastErrorLine(err);
  if (/Connection refused/i.test(err)) return { outcome: "refused", ...withDetail(detail) };
  if (/timed out/i.test(err) || o.deadline) return { outcome: "timed out", ...withDetail(detail) };
  if (/No route to host|Network is unreachable|Permission denied|Operation not permitted/i.test(err)) {
    return { outcome: "unreachable", ...withDetail(detail) };
  }
  // TCP: the server accepted and closed without a word. UDP: socat's -T
  // inactivity timeout ended it without any reply datagram.
  if (o.exitCode === 0)
    return o.protocol === "TCP" ? { outcome: "connected", reply: "" } : { outcome: "timed out" };
  return { outcome: "error", ...withDetail(detail ?? `probe exited ${o.exitCode}`) };
}

function withDetail(d: string | undefined): { detail?: string } {
  return d !== undefined ? { detail: d } : {};
}

function lastErrorLine(s: string): string | undefined {
  const lines = s
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "");
  const l = lines[lines.length - 1];
  // "2026/11/29 18:26:33 socat[8971] E connect(...): Connection refused" -> the message part
  return l?.replace(/^.*socat\[\d+\] [A-Z] /, "");
}

/** socat address of the target: IPv6 literals go in brackets. */
export function socatTarget(protocol: Protocol, ip: string, port: number, timeoutMs: number): string {
  const host = ip.includes(":") ? `[${ip}]` : ip;
  if (protocol === "TCP") return `TCP:${host}:${port},connect-timeout=${(timeoutMs / 1000).toFixed(3)}`;
  return `UDP:${host}:${port}`;
}
