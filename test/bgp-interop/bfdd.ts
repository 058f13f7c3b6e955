/**
 * FRR's bfdd (Debian's frr 8.4) in a lab namespace, alone (no zebra): static
 * single-hop sessions from its own config file, its vty socket in the lab dir.
 */
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sh, trySh, untilAsync, type Link, type NetLab } from "./netlab.js";

export const BFDD = "/usr/lib/frr/bfdd";

export class BfddPeer {
  private readonly dir: string;

  constructor(
    private readonly lab: NetLab,
    private readonly link: Link,
    private readonly name: string,
    /** Sessions: [peer (Trellis) address, our local address]. */
    private readonly sessions: [string, string][],
    private readonly timers: { intervalMs: number; multiplier: number },
  ) {
    this.dir = join(lab.dir, `bfdd-${name}`);
    mkdirSync(this.dir, { recursive: true });
    // bfdd drops to the frr user (it has no --skip-runas, unlike bgpd): its
    // directory is frr's, and the lab dir (mkdtemp: 0700) must let it through.
    chmodSync(lab.dir, 0o711);
    chownSync(this.dir, Number(sh("id", ["-u", "frr"]).trim()), Number(sh("id", ["-g", "frr"]).trim()));
  }

  async start(): Promise<void> {
    const conf = join(this.dir, "bfdd.conf");
    const t = this.timers;
    writeFileSync(
      conf,
      [
        `hostname ${this.link.ns}`,
        `log file ${join(this.dir, "bfdd.log")}`,
        "bfd",
        ...this.sessions.flatMap(([peer, local]) => [
          ` peer ${peer} local-address ${local}`,
          `  receive-interval ${t.intervalMs}`,
          `  transmit-interval ${t.intervalMs}`,
          `  detect-multiplier ${t.multiplier}`,
          " exit",
        ]),
        "exit",
        "",
      ].join("\n"),
    );
    this.lab.spawnIn(
      this.link.ns,
      BFDD,
      [
        "-f",
        conf,
        "-i",
        join(this.dir, "bfdd.pid"),
        "--vty_socket",
        this.dir,
        "--bfdctl",
        join(this.dir, "bfdd.sock"),
        "-z",
        join(this.dir, "zserv.api"),
      ],
      `bfdd-${this.name}.out`,
    );
    await untilAsync(async () => this.vtysh("show bfd peers").ok, 15000, "bfdd vty socket");
  }

  vtysh(...cmds: string[]): { out: string; ok: boolean } {
    const args = ["netns", "exec", this.link.ns, "vtysh", "--vty_socket", this.dir, "-d", "bfdd"];
    for (const c of cmds) args.push("-c", c);
    const r = trySh("ip", args);
    return { out: r.out, ok: r.ok };
  }

  /** `show bfd peers json`: peer address -> status ("up", "down", "init"). */
  sessionsSeen(): Map<string, string> {
    const out = new Map<string, string>();
    const r = this.vtysh("show bfd peers json");
    if (!r.ok) return out;
    try {
      for (const p of JSON.parse(r.out) as { peer: string; status: string }[]) out.set(p.peer, p.status);
    } catch {
      /* not JSON yet */
    }
    return out;
  }
}
