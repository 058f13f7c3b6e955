/**
 * The shell that marks conntrack entries for re-checking (revocation.ts
 * decides which): `conntrack -U … --mark 0x10000000/0x10000000` from the
 * conntrack package (scripts/bootstrap installs it), in the agent's network
 * namespace or in `netns`. The mask leaves every other bit of the mark to
 * whoever else uses it.
 *
 * Per prefix, three updates: by original source (`-s`), by original
 * destination (`-d`), and, for a single address, by reply source (`-r`:
 * the flows DNATed to a pod, whose original destination was a service or
 * node address; conntrack 1.4.7 takes no CIDR there). One process each: the
 * conntrack tool takes one filter per run.
 */
import { spawn } from "node:child_process";
import { CT_MARK_RECHECK } from "../../policy/compiler/to-nft.js";

export interface Revoker {
  /** Marks every entry to or from the prefixes for re-checking; resolves with how many it marked. */
  revoke(prefixes: readonly string[]): Promise<number>;
}

export class ConntrackError extends Error {
  readonly code = "TRELLIS_ECONNTRACK";
  constructor(message: string) {
    super(message);
    this.name = "ConntrackError";
  }
}

/** `conntrack -U` prints "N flow entries have been updated." on stderr, and exits 1 when N is 0. */
export function updatedCount(code: number, stderr: string): number | undefined {
  const m = /(\d+) flow entr(?:y|ies) ha(?:s|ve) been updated/.exec(stderr);
  if (m === null) return undefined;
  const n = Number(m[1]);
  return code === 0 || (code === 1 && n === 0) ? n : undefined;
}

/** The filters that cover a prefix: original source and destination; reply source for one address. */
export function entryFilters(prefix: string): string[][] {
  const [, len] = prefix.split("/");
  const host = len === undefined || len === "32" || (len === "128" && prefix.includes(":"));
  const addr = host ? (prefix.split("/")[0] as string) : prefix;
  return [["-s", addr], ["-d", addr], ...(host ? [["-r", addr]] : [])];
}

export class ConntrackRevoker implements Revoker {
  constructor(private readonly opts: { netns?: string; conntrackPath?: string; timeoutMs?: number } = {}) {}

  private run(filter: readonly string[]): Promise<number> {
    const mark = `0x${CT_MARK_RECHECK.toString(16)}`;
    const argv = [this.opts.conntrackPath ?? "conntrack", "-U", ...filter, "--mark", `${mark}/${mark}`];
    const full = this.opts.netns
      ? ["nsenter", `--net=/var/run/netns/${this.opts.netns}`, "--", ...argv]
      : argv;
    return new Promise((resolve, reject) => {
      const p = spawn(full[0] as string, full.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      const timer = setTimeout(() => p.kill("SIGKILL"), this.opts.timeoutMs ?? 10_000);
      p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      p.on("error", (e) => {
        clearTimeout(timer);
        reject(new ConntrackError(`conntrack -U ${filter.join(" ")}: ${e.message}`));
      });
      p.on("close", (code) => {
        clearTimeout(timer);
        const n = updatedCount(code ?? -1, stderr);
        if (n !== undefined) resolve(n);
        else
          reject(
            new ConntrackError(
              `conntrack -U ${filter.join(" ")} failed (exit ${code ?? "signal"}): ${stderr.trim().split("\n")[0] ?? ""}`,
            ),
          );
      });
    });
  }

  async revoke(prefixes: readonly string[]): Promise<number> {
    let n = 0;
    // One at a time: each is a few milliseconds, and revocation runs off the apply path.
    for (const p of prefixes) for (const f of entryFilters(p)) n += await this.run(f);
    return n;
  }
}
