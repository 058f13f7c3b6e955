/**
 * The shell of revocation (revocation.ts decides): the `conntrack` tool
 * from the conntrack package (scripts/bootstrap installs it), in the
 * agent's network namespace or in `netns`. It lists the entries to or from
 * the touched prefixes and sets or clears the mark bit CT_MARK_DENIED on
 * the ones the new rules deny or allow again; the mask leaves every other
 * bit of the mark to whoever else uses it.
 *
 * Per prefix, three listings: by original source (`-s`), by original
 * destination (`-d`), and, for a single address, by reply source (`-r`:
 * the flows DNATed to a pod, whose original destination was a service or
 * node address; conntrack 1.4.7 takes no CIDR there). One process each: the
 * tool takes one filter per run.
 */
import { messageOf } from "../../net/native-addon.js";
import { runProcess, type ProcessResult } from "../../net/run-process.js";
import { CT_MARK_DENIED } from "../../policy/compiler/to-nft.js";
import { parseConntrackLine, type CtEntry } from "./revocation.js";

export interface Revoker {
  /** The entries to or from the prefixes, each once. */
  list(prefixes: readonly string[]): Promise<CtEntry[]>;
  /** Sets (`denied`) or clears the denied bit on the entry's flow; resolves with how many entries changed. */
  mark(e: CtEntry, denied: boolean): Promise<number>;
}

export class ConntrackError extends Error {
  readonly code = "TRELLIS_ECONNTRACK";
  constructor(message: string) {
    super(message);
    this.name = "ConntrackError";
  }
}

/** `conntrack` prints "N flow entries have been <verb>." on stderr, and exits 1 when N is 0. */
export function reportedCount(code: number, stderr: string, verb: "shown" | "updated"): number | undefined {
  const m = new RegExp(`(\\d+) flow entr(?:y|ies) ha(?:s|ve) been ${verb}`).exec(stderr);
  if (m === null) return undefined;
  const n = Number(m[1]);
  return code === 0 || (code === 1 && n === 0) ? n : undefined;
}

/** The filters that cover a prefix: original source and destination; reply source for one address. */
export function entryFilters(prefix: string): string[][] {
  const [addr, len] = prefix.split("/") as [string, string | undefined];
  const host = len === undefined || len === "32" || (len === "128" && prefix.includes(":"));
  const a = host ? addr : prefix;
  return [["-s", a], ["-d", a], ...(host ? [["-r", a]] : [])];
}

/** The `conntrack -U` arguments that name one entry's flow and set or clear the bit. */
export function markArgs(e: CtEntry, denied: boolean): string[] {
  const bit = `0x${CT_MARK_DENIED.toString(16)}`;
  const proto = e.protocol === "ipv6-icmp" ? "icmpv6" : e.protocol;
  return [
    "-U",
    "-p",
    proto,
    "-s",
    e.saddr,
    "-d",
    e.daddr,
    ...(e.sport !== undefined ? ["--sport", String(e.sport)] : []),
    ...(e.dport !== undefined ? ["--dport", String(e.dport)] : []),
    "--mark",
    `${denied ? bit : "0"}/${bit}`,
  ];
}

const key = (e: CtEntry) => `${e.protocol} ${e.saddr} ${e.daddr} ${e.sport ?? ""} ${e.dport ?? ""}`;

export class ConntrackRevoker implements Revoker {
  constructor(private readonly opts: { netns?: string; conntrackPath?: string; timeoutMs?: number } = {}) {}

  private run(args: readonly string[]): Promise<ProcessResult> {
    return runProcess([this.opts.conntrackPath ?? "conntrack", ...args], {
      ...(this.opts.netns !== undefined ? { netns: this.opts.netns } : {}),
      timeoutMs: this.opts.timeoutMs ?? 10_000,
    }).catch((e: unknown) => {
      throw new ConntrackError(`conntrack ${args.join(" ")}: ${messageOf(e)}`);
    });
  }

  /** Runs one `conntrack` and reads the count it reports; a run that reports none failed. */
  private async counted(
    args: readonly string[],
    verb: "shown" | "updated",
  ): Promise<{ n: number; stdout: string }> {
    const r = await this.run(args);
    const n = reportedCount(r.code, r.stderr, verb);
    if (n === undefined)
      throw new ConntrackError(
        `conntrack ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim().split("\n")[0] ?? ""}`,
      );
    return { n, stdout: r.stdout };
  }

  async list(prefixes: readonly string[]): Promise<CtEntry[]> {
    const out = new Map<string, CtEntry>();
    // One at a time: each is a few milliseconds, and revocation runs off the apply path.
    for (const p of prefixes)
      for (const f of entryFilters(p))
        for (const line of (await this.counted(["-L", ...f], "shown")).stdout.split("\n")) {
          const e = parseConntrackLine(line);
          if (e !== undefined) out.set(key(e), e);
        }
    return [...out.values()];
  }

  async mark(e: CtEntry, denied: boolean): Promise<number> {
    return (await this.counted(markArgs(e, denied), "updated")).n;
  }
}
