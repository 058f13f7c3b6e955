/**
 * The kernel side of BGPPeer `reachableBy`: a host route to a peer that is
 * not on a connected network, `peerIP/32 via GATEWAY proto 201` (main table).
 * Protocol 201 is the agent's own (net/route-ownership.ts: routes derived
 * from local state); among the agent's proto 201 routes these are the only
 * ones with a gateway (pod routes go `dev trl…`, block blackholes have no
 * next hop), which is how they are found again after a restart and how the
 * sweep touches nothing else: a route with a gateway and proto 201 that no
 * BGPPeer asks for any more is deleted (its BGPPeer was deleted or no longer
 * selects this node, maybe while the agent was down).
 *
 * `planPeerRoutes` is pure (the diff, as `ip -batch` lines); `PeerRoutes`
 * reads the kernel, applies the plan and re-reads on every resync.
 */
import type { Logger } from "pino";
import { PROTO_TRELLIS_LOCAL } from "../../net/route-ownership.js";
import { parsePrefixLoose, formatPrefix } from "../../net/address.js";
import { ipJson, runIpBatch } from "../dataplane/ip-exec.js";
import type { PeerHostRoute } from "./desired-config.js";

/** One of our gatewayed proto 201 routes as read from the kernel. */
export interface InstalledPeerRoute {
  prefix: string;
  via: string;
}

/** The `ip -batch` lines that turn `installed` into `want`: replace what is missing or differs, delete the rest. */
export function planPeerRoutes(
  installed: readonly InstalledPeerRoute[],
  want: readonly Pick<PeerHostRoute, "prefix" | "via">[],
): string[] {
  const lines: string[] = [];
  const wanted = new Map(want.map((r) => [r.prefix, r.via]));
  for (const r of installed)
    if (wanted.get(r.prefix) !== r.via)
      lines.push(`route del ${r.prefix} via ${r.via} proto ${PROTO_TRELLIS_LOCAL}`);
  const have = new Set(installed.map((r) => `${r.prefix} ${r.via}`));
  for (const r of want)
    if (!have.has(`${r.prefix} ${r.via}`))
      lines.push(`route replace ${r.prefix} via ${r.via} proto ${PROTO_TRELLIS_LOCAL}`);
  return lines;
}

interface IpRoute {
  dst?: string;
  gateway?: string;
  type?: string;
}

/** Our gatewayed proto 201 routes, both families; a string when `ip` failed. `netns`: a namespace path (tests). */
export async function readPeerRoutes(netns?: string): Promise<InstalledPeerRoute[] | string> {
  const out: InstalledPeerRoute[] = [];
  for (const fam of ["-4", "-6"] as const) {
    const rows = await ipJson<IpRoute>(
      [fam, "route", "show", "table", "main", "proto", String(PROTO_TRELLIS_LOCAL)],
      netns,
    );
    if (!Array.isArray(rows)) return rows.stderr;
    for (const r of rows) {
      if (r.gateway === undefined || r.dst === undefined || (r.type ?? "unicast") !== "unicast") continue;
      const p = parsePrefixLoose(r.dst.includes("/") ? r.dst : `${r.dst}/${fam === "-6" ? 128 : 32}`);
      if (typeof p !== "string") out.push({ prefix: formatPrefix(p), via: r.gateway });
    }
  }
  return out;
}

export class PeerRoutes {
  private last = "";
  /** Re-read the kernel at the next apply (start, resync, after a failure). */
  private stale = true;

  /** `netns`: run `ip` in this namespace (a path, e.g. /var/run/netns/X; tests). */
  constructor(
    private readonly log: Logger,
    private readonly netns?: string,
  ) {}

  /** The resync timer: the next apply reads the kernel again even if nothing changed. */
  markStale(): void {
    this.stale = true;
  }

  async apply(want: readonly PeerHostRoute[]): Promise<void> {
    const key = JSON.stringify(want.map((r) => [r.prefix, r.via]));
    if (!this.stale && key === this.last) return;
    const installed = await readPeerRoutes(this.netns);
    if (typeof installed === "string") {
      this.log.warn({ err: installed }, "reading the reachableBy routes failed; will retry");
      this.stale = true;
      return;
    }
    const lines = planPeerRoutes(installed, want);
    if (lines.length > 0) {
      const r = await runIpBatch(lines, this.netns);
      if (r.code !== 0) {
        this.log.warn({ err: r.stderr, lines }, "installing the reachableBy routes failed; will retry");
        this.stale = true;
        return;
      }
      this.log.info({ lines }, "reachableBy routes to BGP peers updated");
    }
    this.last = key;
    this.stale = false;
  }
}
