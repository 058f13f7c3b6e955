/** A BIRD 2 instance in a lab namespace, configured as one BGP neighbour of trellis-bgp. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { sh, trySh, untilAsync, type Link, type NetLab } from "./netlab.js";

export interface BirdRoute {
  prefix: string;
  communities?: string[];
  largeCommunities?: string[];
}

export interface BirdPeerOptions {
  name: string;
  asn: number;
  routerId: string;
  trellisAsn: number;
  link: Link;
  routes: BirdRoute[];
  gracefulRestart?: boolean;
  /** BIRD is a route-reflector client of Trellis (nothing to configure on the client). */
  holdTime?: number;
}

export class BirdPeer {
  readonly sock: string;
  private readonly conf: string;
  proc: ChildProcess | undefined;

  constructor(
    private readonly lab: NetLab,
    private opts: BirdPeerOptions,
  ) {
    this.sock = join(lab.dir, `bird-${opts.name}.ctl`);
    this.conf = join(lab.dir, `bird-${opts.name}.conf`);
  }

  private config(): string {
    const o = this.opts;
    const l = o.link;
    const ibgp = o.asn === o.trellisAsn;
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
protocol bgp trellis {
  local ${l.p4} as ${o.asn};
  neighbor ${l.t4} as ${o.trellisAsn};
  hold time ${o.holdTime ?? 3};
  keepalive time 1;
  connect retry time 1;
  error wait time 1, 5;
  ${o.gracefulRestart ? "graceful restart on; graceful restart time 30;" : "graceful restart off;"}
  ${ibgp ? "direct;" : ""}
  ipv4 {
    import all;
    export where source = RTS_STATIC;
    ${ibgp ? "gateway direct; next hop self;" : ""}
  };
  ipv6 {
    import all;
    export where source = RTS_STATIC;
    next hop address ${l.p6};
    ${ibgp ? "gateway direct;" : ""}
  };
}
`;
  }

  async start(recovery = false): Promise<void> {
    writeFileSync(this.conf, this.config());
    this.proc = this.lab.spawnIn(
      this.opts.link.ns,
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

  /** Change the static routes and reconfigure (BIRD re-announces the difference). */
  setRoutes(routes: BirdRoute[]): void {
    this.opts = { ...this.opts, routes };
    writeFileSync(this.conf, this.config());
    this.birdc("configure");
  }

  /** Change the static routes for the next start (BIRD is not running). */
  setRoutesOffline(routes: BirdRoute[]): void {
    this.opts = { ...this.opts, routes };
  }

  birdc(...args: string[]): string {
    return sh("birdc", ["-s", this.sock, ...args]);
  }

  state(): string {
    const out = this.birdc("show", "protocols", "trellis");
    return /trellis\s+BGP\s+\S+\s+\S+\s+\S+\s+(\w+)/.exec(out)?.[1] ?? out;
  }

  /** `show route all` text for one prefix ("" when absent). */
  route(prefix: string): string {
    const r = trySh("birdc", ["-s", this.sock, "show", "route", prefix, "all"]);
    return r.out.includes("Network not found") || !r.out.includes(prefix.split("/")[0]!) ? "" : r.out;
  }

  protocolInfo(): string {
    return this.birdc("show", "protocols", "all", "trellis");
  }

  kill(sig: NodeJS.Signals): void {
    if (this.proc?.pid) process.kill(this.proc.pid, sig);
  }

  async stopHard(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const done = new Promise((r) => p.once("exit", r));
    this.kill("SIGKILL");
    await done;
  }
}
