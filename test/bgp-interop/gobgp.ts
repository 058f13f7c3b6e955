/** GoBGP (Debian's gobgpd 3.x) in a lab namespace; routes are added through its gRPC API with `gobgp`. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { trySh, untilAsync, type Link, type NetLab } from "./netlab.js";
import {
  SpawnedPeer,
  sessionAddresses,
  type PeerDriverOptions,
  type PeerRoute,
  type RouteSeen,
} from "./driver.js";

export class GobgpPeer extends SpawnedPeer<PeerDriverOptions & { routeReflectorClientOf?: never }> {
  readonly kind = "GoBGP";
  private readonly conf: string;
  private readonly logName: string;
  private active: PeerRoute[] = [];

  constructor(lab: NetLab, link: Link, opts: PeerDriverOptions & { routeReflectorClientOf?: never }) {
    super(lab, link, opts);
    this.conf = join(lab.dir, `gobgp-${opts.name}.toml`);
    this.logName = `gobgp-${opts.name}.out`;
  }

  private config(): string {
    const o = this.opts;
    const l = this.link;
    const sa = sessionAddresses(l, o);
    const afi = (name: string): string =>
      [
        "  [[neighbors.afi-safis]]",
        "    [neighbors.afi-safis.config]",
        `      afi-safi-name = "${name}"`,
        ...(o.gracefulRestart
          ? ["    [neighbors.afi-safis.mp-graceful-restart.config]", "      enabled = true"]
          : []),
      ].join("\n");
    return `
[global.config]
  as = ${o.asn}
  router-id = "${o.routerId}"
  port = 179
  local-address-list = ["${sa.local}"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "${sa.neighbor}"
    peer-as = ${o.trellisAsn}
${o.password !== undefined ? `    auth-password = "${o.password}"\n` : ""}  [neighbors.timers.config]
    hold-time = 3
    keepalive-interval = 1
    connect-retry = 1
  [neighbors.transport.config]
    local-address = "${sa.local}"
${o.gracefulRestart ? "  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = 30\n" : ""}
${afi("ipv4-unicast")}
${afi("ipv6-unicast")}
`;
  }

  gobgp(...args: string[]): { out: string; ok: boolean; err: string } {
    return trySh("ip", ["netns", "exec", this.link.ns, "gobgp", ...args]);
  }

  private add(r: PeerRoute): void {
    const v6 = r.prefix.includes(":");
    const args = ["global", "rib", "add", "-a", v6 ? "ipv6" : "ipv4", r.prefix, "origin", "igp"];
    // IPv6 routes over an IPv4 session need a real IPv6 next hop.
    args.push("nexthop", v6 ? this.link.p6 : this.link.p4);
    if (r.communities?.length) args.push("community", r.communities.join(","));
    if (r.largeCommunities?.length) args.push("large-community", r.largeCommunities.join(","));
    const x = this.gobgp(...args);
    if (!x.ok) throw new Error(`gobgp ${args.join(" ")}: ${x.err}`);
  }

  private del(r: PeerRoute): void {
    const v6 = r.prefix.includes(":");
    this.gobgp("global", "rib", "del", "-a", v6 ? "ipv6" : "ipv4", r.prefix);
  }

  async start(recovery = false): Promise<void> {
    writeFileSync(this.conf, this.config());
    this.proc = this.lab.spawnIn(
      this.link.ns,
      "gobgpd",
      [
        "-f",
        this.conf,
        "-t",
        "toml",
        "--api-hosts",
        "127.0.0.1:50051",
        "--pprof-disable",
        ...(recovery ? ["-r"] : []),
      ],
      this.logName,
    );
    await untilAsync(async () => this.gobgp("global").ok, 15000, "gobgpd API");
    for (const r of this.opts.routes) this.add(r);
    this.active = this.opts.routes;
  }

  async setRoutes(routes: PeerRoute[]): Promise<void> {
    for (const r of this.active) if (!routes.some((x) => x.prefix === r.prefix)) this.del(r);
    for (const r of routes) if (!this.active.some((x) => x.prefix === r.prefix)) this.add(r);
    this.active = routes;
    this.opts = { ...this.opts, routes };
    await Promise.resolve();
  }

  established(): boolean {
    const n = sessionAddresses(this.link, this.opts).neighbor;
    return /BGP state\s*=\s*established/i.test(this.gobgp("neighbor", n).out);
  }

  route(prefix: string): RouteSeen | undefined {
    const fam = prefix.includes(":") ? "ipv6" : "ipv4";
    const r = this.gobgp("global", "rib", "-a", fam, prefix, "-j");
    if (!r.ok || !r.out.trim()) return undefined;
    const j = JSON.parse(r.out) as Record<string, GobgpPath[]>;
    const paths = j[prefix] ?? Object.values(j)[0];
    const p = paths?.find((x) => x.best) ?? paths?.[0];
    if (!p) return undefined;
    const attr = (t: number): GobgpAttr | undefined => p.attrs.find((a) => a.type === t);
    const asns = (attr(2)?.as_paths ?? []).flatMap((s) => s.asns ?? []);
    const seen: RouteSeen = {
      asPath: asns.join(" "),
      communities: (attr(8)?.communities ?? []).map((c) => `${Math.floor(c / 65536)}:${c % 65536}`),
      largeCommunities: ((attr(32)?.value as GobgpLarge[] | undefined) ?? []).map(
        (v) => `${v.ASN}:${v.LocalData1}:${v.LocalData2}`,
      ),
    };
    const lp = attr(5)?.value;
    if (typeof lp === "number") seen.localPref = lp;
    const nh = attr(3)?.nexthop ?? attr(14)?.nexthop;
    if (nh) seen.nextHop = nh;
    const oid = attr(9)?.value;
    if (typeof oid === "string") seen.originatorId = oid;
    const cl = attr(10)?.value;
    if (Array.isArray(cl)) seen.clusterList = cl as string[];
    return seen;
  }

  /** GoBGP keeps its Adj-RIB-In: `softresetin` re-applies policy locally and sends no ROUTE-REFRESH. */
  requestRefresh(): void {
    throw new Error("gobgp has no command that sends ROUTE-REFRESH");
  }

  sawNotification(re: RegExp): boolean {
    const log = this.readLog(join(this.lab.dir, this.logName));
    if (log === undefined) return false;
    // GoBGP logs NOTIFICATIONs as JSON with Code and Subcode fields: add "code/subcode" text.
    const codes = [...log.matchAll(/"Code":(\d+),"Subcode":(\d+)/g)].map((m) => `${m[1]}/${m[2]}`).join(" ");
    return re.test(log) || re.test(codes);
  }
}

interface GobgpLarge {
  ASN: number;
  LocalData1: number;
  LocalData2: number;
}
interface GobgpAttr {
  type: number;
  value?: unknown;
  as_paths?: { asns?: number[] }[];
  nexthop?: string;
  communities?: number[];
}
interface GobgpPath {
  best?: boolean;
  attrs: GobgpAttr[];
}
