/** A BIRD 2 instance in a lab namespace, configured as one BGP neighbour of trellis-bgp. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { sh, trySh, untilAsync, T_AS, type Link, type NetLab } from "./netlab.js";
import {
  normCommunity,
  SpawnedPeer,
  sessionAddresses,
  speakerBfd,
  type PeerDriverOptions,
  type PeerRoute,
  type RouteSeen,
} from "./driver.js";

export class BirdPeer extends SpawnedPeer {
  readonly kind = "BIRD";
  readonly sock: string;
  private readonly conf: string;

  constructor(lab: NetLab, link: Link, opts: PeerDriverOptions) {
    super(lab, link, opts);
    this.sock = join(lab.dir, `bird-${opts.name}.ctl`);
    this.conf = join(lab.dir, `bird-${opts.name}.conf`);
  }

  private config(): string {
    const o = this.opts;
    const l = this.link;
    const ibgp = o.asn === o.trellisAsn;
    const sa = sessionAddresses(l, o);
    const statics = (v6: boolean): string =>
      o.routes
        .filter((r) => r.prefix.includes(":") === v6)
        .map((r) => {
          const sets = [
            ...(r.communities ?? []).map((c) => `bgp_community.add((${c.replace(":", ",")}));`),
            ...(r.largeCommunities ?? []).map((c) => `bgp_large_community.add((${c.split(":").join(",")}));`),
          ];
          return `  route ${r.prefix} blackhole${sets.length ? ` { ${sets.join(" ")} }` : ""};`;
        })
        .join("\n");
    return `
router id ${o.routerId};
log "${join(this.lab.dir, `bird-${o.name}.log`)}" all;
protocol device { scan time 1; }
protocol direct { ipv4; ipv6; interface "${l.pIf}"; }
protocol static s4 { ipv4;
${statics(false)}
}
protocol static s6 { ipv6;
${statics(true)}
}
${
  o.bfd
    ? `protocol bfd {
  interface "*" { min rx interval ${o.bfd.intervalMs} ms; min tx interval ${o.bfd.intervalMs} ms; idle tx interval 1000 ms; multiplier ${o.bfd.multiplier}; };
}`
    : ""
}
protocol bgp trellis {
  local ${sa.local} as ${o.asn};
  neighbor ${sa.neighbor} as ${o.trellisAsn};
  hold time 3;
  keepalive time 1;
  connect retry time 1;
  error wait time 1, 5;
  ${o.password !== undefined ? `password "${o.password}";` : ""}
  ${o.ttlSecurity ? "ttl security on;" : ""}
  ${o.bfd ? "bfd on;" : ""}
  ${o.gracefulRestart ? "graceful restart on; graceful restart time 30;" : "graceful restart off;"}
  ${ibgp ? "direct;" : ""}
  ipv4 {
    import all;
    export where source = RTS_STATIC;
    ${ibgp ? "gateway direct; next hop self;" : ""}
    ${o.ipv6Transport ? "extended next hop on;" : ""}
  };
  ipv6 {
    import all;
    export where source = RTS_STATIC;
    ${o.ipv6Transport ? "" : `next hop address ${l.p6};`}
    ${ibgp ? "gateway direct;" : ""}
  };
}
`;
  }

  async start(recovery = false): Promise<void> {
    writeFileSync(this.conf, this.config());
    this.proc = this.lab.spawnIn(
      this.link.ns,
      "bird",
      ["-f", "-c", this.conf, "-s", this.sock, ...(recovery ? ["-R"] : [])],
      `bird-${this.opts.name}.out`,
    );
    await untilAsync(
      async () => trySh("birdc", ["-s", this.sock, "show", "status"]).ok,
      10000,
      "BIRD control socket",
    );
  }

  async setRoutes(routes: PeerRoute[]): Promise<void> {
    this.opts = { ...this.opts, routes };
    writeFileSync(this.conf, this.config());
    this.birdc("configure");
    await Promise.resolve();
  }

  birdc(...args: string[]): string {
    return sh("birdc", ["-s", this.sock, ...args]);
  }

  established(): boolean {
    return /Established/.test(trySh("birdc", ["-s", this.sock, "show", "protocols", "trellis"]).out);
  }

  route(prefix: string): RouteSeen | undefined {
    const r = trySh("birdc", ["-s", this.sock, "show", "route", prefix, "all"]);
    if (!r.ok || !r.out.includes(`${prefix} `)) return undefined;
    const attr = (name: string): string | undefined =>
      new RegExp(`BGP\\.${name}:[ \\t]*(.*)`).exec(r.out)?.[1]?.trim();
    const seen: RouteSeen = {
      asPath: attr("as_path") ?? "",
      communities: (attr("community")?.match(/\(\d+,\d+\)/g) ?? []).map(normCommunity),
      largeCommunities: (attr("large_community")?.match(/\(\d+, \d+, \d+\)/g) ?? []).map(normCommunity),
    };
    const lp = attr("local_pref");
    if (lp !== undefined) seen.localPref = Number(lp);
    const nh = attr("next_hop");
    if (nh !== undefined) seen.nextHop = nh.split(" ")[0]!;
    const oid = attr("originator_id");
    if (oid !== undefined) seen.originatorId = oid;
    const cl = attr("cluster_list");
    if (cl !== undefined) seen.clusterList = cl.split(/\s+/).filter(Boolean);
    return seen;
  }

  requestRefresh(): void {
    this.birdc("reload", "in", "trellis");
  }

  /** `show bfd sessions`: peer address -> state. */
  bfdSessions(): Map<string, string> {
    const out = new Map<string, string>();
    const r = trySh("birdc", ["-s", this.sock, "show", "bfd", "sessions"]);
    for (const line of r.out.split("\n")) {
      const m = /^(\S+)\s+\S+\s+(Up|Down|Init|AdminDown)\b/.exec(line.trim());
      if (m) out.set(m[1]!, m[2]!);
    }
    return out;
  }

  sawNotification(re: RegExp): boolean {
    return re.test(trySh("birdc", ["-s", this.sock, "show", "protocols", "all", "trellis"]).out);
  }
}

/** A BIRD neighbour on the lab link of its name, announcing one prefix, with BFD or without. */
export interface BirdNeighbour {
  name: string;
  asn: number;
  routerId: string;
  prefix: string;
  bfd?: PeerDriverOptions["bfd"];
  ipv6Transport?: boolean;
}

/**
 * The BIRD peer of `n` and trellis-bgp's peer entry facing it (same
 * addresses, same AS, the same BFD timers both ways).
 */
export function birdNeighbour(
  lab: NetLab,
  n: BirdNeighbour,
): { bird: BirdPeer; peer: Record<string, unknown> } {
  const { prefix, bfd, ...rest } = n;
  const opts: PeerDriverOptions = {
    ...rest,
    trellisAsn: T_AS,
    routes: [{ prefix }],
    ...(bfd ? { bfd } : {}),
  };
  const link = lab.link(n.name);
  const sa = sessionAddresses(link, opts);
  return {
    bird: new BirdPeer(lab, link, opts),
    peer: {
      address: sa.local,
      asn: n.asn,
      localAddress: sa.neighbor,
      ...(bfd ? { bfd: speakerBfd(bfd) } : {}),
    },
  };
}
