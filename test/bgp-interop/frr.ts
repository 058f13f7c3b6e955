/**
 * FRR's bgpd (Debian's frr 8.4) in a lab namespace, alone: no zebra (-Z), no
 * kernel routes (-n), its own pid file, config and vty socket in the lab dir.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { trySh, untilAsync, type Link, type NetLab } from "./netlab.js";
import {
  SpawnedPeer,
  sessionAddresses,
  type PeerDriverOptions,
  type PeerRoute,
  type RouteSeen,
} from "./driver.js";

export const BGPD = "/usr/lib/frr/bgpd";

export class FrrPeer extends SpawnedPeer {
  readonly kind = "FRR";
  private readonly dir: string;
  private active: PeerRoute[] = [];

  constructor(lab: NetLab, link: Link, opts: PeerDriverOptions) {
    super(lab, link, opts);
    this.dir = join(lab.dir, `frr-${opts.name}`);
    mkdirSync(this.dir, { recursive: true });
  }

  private rmName(r: PeerRoute): string {
    return `RM-${r.prefix.replace(/[^0-9a-f]/gi, "-")}`;
  }

  private routeMaps(routes: PeerRoute[]): string[] {
    return routes.flatMap((r) => [
      `route-map ${this.rmName(r)} permit 10`,
      ...(r.communities?.length ? [` set community ${r.communities.join(" ")}`] : []),
      ...(r.largeCommunities?.length ? [` set large-community ${r.largeCommunities.join(" ")}`] : []),
      "exit",
    ]);
  }

  private config(): string {
    const o = this.opts;
    const l = this.link;
    const n = sessionAddresses(l, o).neighbor;
    const nets = (v6: boolean): string[] =>
      o.routes
        .filter((r) => r.prefix.includes(":") === v6)
        .map((r) => `  network ${r.prefix} route-map ${this.rmName(r)}`);
    return [
      "frr defaults traditional",
      `hostname ${l.ns}`,
      `log file ${join(this.dir, "bgpd.log")}`,
      "log timestamp precision 3",
      ...this.routeMaps(o.routes),
      "route-map V6NH permit 10",
      ` set ipv6 next-hop global ${l.p6}`,
      "exit",
      `router bgp ${o.asn}`,
      ` bgp router-id ${o.routerId}`,
      " no bgp ebgp-requires-policy",
      " no bgp network import-check",
      ...(o.gracefulRestart
        ? [
            " bgp graceful-restart",
            " bgp graceful-restart restart-time 30",
            " bgp graceful-restart preserve-fw-state",
          ]
        : []),
      ` neighbor ${n} remote-as ${o.trellisAsn}`,
      ` neighbor ${n} timers 1 3`,
      ` neighbor ${n} timers connect 1`,
      ...(o.password !== undefined ? [` neighbor ${n} password ${o.password}`] : []),
      ...(o.ttlSecurity ? [` neighbor ${n} ttl-security hops 1`] : []),
      ...(o.ipv6Transport ? [` neighbor ${n} capability extended-nexthop`] : []),
      " address-family ipv4 unicast",
      ...nets(false),
      `  neighbor ${n} activate`,
      `  neighbor ${n} send-community all`,
      " exit-address-family",
      " address-family ipv6 unicast",
      ...nets(true),
      `  neighbor ${n} activate`,
      `  neighbor ${n} send-community all`,
      ...(o.ipv6Transport ? [] : [`  neighbor ${n} route-map V6NH out`]),
      " exit-address-family",
      "exit",
      "",
    ].join("\n");
  }

  async start(): Promise<void> {
    const conf = join(this.dir, "bgpd.conf");
    writeFileSync(conf, this.config());
    this.active = this.opts.routes;
    this.proc = this.lab.spawnIn(
      this.link.ns,
      BGPD,
      ["-f", conf, "-i", join(this.dir, "bgpd.pid"), "--vty_socket", this.dir, "-n", "-Z", "-S", "-p", "179"],
      `frr-${this.opts.name}.out`,
    );
    await untilAsync(async () => this.vtysh("show bgp summary").ok, 15000, "FRR vty socket");
  }

  vtysh(...cmds: string[]): { out: string; ok: boolean } {
    const args = ["netns", "exec", this.link.ns, "vtysh", "--vty_socket", this.dir, "-d", "bgpd"];
    for (const c of cmds) args.push("-c", c);
    return trySh("ip", args);
  }

  async setRoutes(routes: PeerRoute[]): Promise<void> {
    const gone = this.active.filter((r) => !routes.some((x) => x.prefix === r.prefix));
    const added = routes.filter((r) => !this.active.some((x) => x.prefix === r.prefix));
    const cmds = ["configure terminal", ...this.routeMaps(added), `router bgp ${this.opts.asn}`];
    for (const v6 of [false, true]) {
      cmds.push(`address-family ${v6 ? "ipv6" : "ipv4"} unicast`);
      for (const r of gone) if (r.prefix.includes(":") === v6) cmds.push(`no network ${r.prefix}`);
      for (const r of added)
        if (r.prefix.includes(":") === v6) cmds.push(`network ${r.prefix} route-map ${this.rmName(r)}`);
      cmds.push("exit-address-family");
    }
    const r = this.vtysh(...cmds);
    if (!r.ok) throw new Error(`vtysh failed: ${r.out}`);
    this.active = routes;
    this.opts = { ...this.opts, routes };
    await Promise.resolve();
  }

  private neighbor(): Record<string, unknown> | undefined {
    const n = sessionAddresses(this.link, this.opts).neighbor;
    const r = this.vtysh(`show bgp neighbors ${n} json`);
    if (!r.ok) return undefined;
    return (JSON.parse(r.out) as Record<string, Record<string, unknown>>)[n];
  }

  established(): boolean {
    return this.neighbor()?.bgpState === "Established";
  }

  route(prefix: string): RouteSeen | undefined {
    const fam = prefix.includes(":") ? "ipv6" : "ipv4";
    const r = this.vtysh(`show bgp ${fam} unicast ${prefix} json`);
    if (!r.ok || !r.out.trim()) return undefined;
    const j = JSON.parse(r.out) as { paths?: FrrPath[] };
    const p = j.paths?.find((x) => x.bestpath?.overall) ?? j.paths?.[0];
    if (!p) return undefined;
    const seen: RouteSeen = {
      asPath: p.aspath?.string === "Local" ? "" : (p.aspath?.string ?? ""),
      communities: p.community?.string ? p.community.string.split(" ") : [],
      largeCommunities: p.largeCommunity?.string ? p.largeCommunity.string.split(" ") : [],
    };
    if (p.locPrf !== undefined) seen.localPref = p.locPrf;
    const nh = p.nexthops?.[0]?.ip;
    if (nh) seen.nextHop = nh;
    if (p.originatorId) seen.originatorId = p.originatorId;
    if (p.clusterList?.list) seen.clusterList = p.clusterList.list;
    return seen;
  }

  requestRefresh(): void {
    this.vtysh(`clear bgp ipv4 unicast ${sessionAddresses(this.link, this.opts).neighbor} soft in`);
  }

  sawNotification(re: RegExp): boolean {
    const log = this.readLog(join(this.dir, "bgpd.log")) ?? "";
    return re.test(JSON.stringify(this.neighbor() ?? {})) || re.test(log);
  }
}

interface FrrPath {
  aspath?: { string?: string };
  community?: { string?: string };
  largeCommunity?: { string?: string };
  locPrf?: number;
  nexthops?: { ip?: string }[];
  originatorId?: string;
  clusterList?: { list?: string[] };
  bestpath?: { overall?: boolean };
}
