/**
 * The routed-veth dataplane shell: runs the plans of routed-veth.ts, reads
 * the kernel back for CHECK, and keeps one blackhole route per affine block.
 * Runs in the node's network namespace (the agent's own).
 */
import { writeFile } from "node:fs/promises";
import { CniCode, CniError } from "../../cni/error.js";
import { ipJson, runIpBatch } from "./ip-exec.js";
import { ShPool, shQuote, withStdin } from "./sh-pool.js";
import { IP_BATCH_PROTOCOL, LineSessionError, LineSessionPool } from "../../net/line-session.js";
import { HOST_VETH_PREFIX } from "../../net/veth-name.js";
import { PROTO_TRELLIS_LOCAL } from "../../net/route-ownership.js";
import { type VethOwner, parseOwnerMarker, sameOwner } from "./veth-owner.js";
import {
  V4_GATEWAY,
  V6_GATEWAY,
  type VethSpec,
  hostPrefix,
  isV6,
  planHostRoutes,
  planLink,
  planOwnerMarker,
  planPod,
  planSysctls,
  podIpArgs,
} from "./routed-veth.js";

const IP = process.env["TRELLIS_IP_BIN"] ?? "ip";

interface IpLink {
  ifname: string;
  mtu?: number;
  address?: string;
  flags?: string[];
  operstate?: string;
  ifalias?: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  type?: string;
}

function isNotFound(stderr: string): boolean {
  return /Cannot find device|does not exist|No such device/i.test(stderr);
}

/** A host veth as the kernel has it: absent, or present with its owner marker (veth-owner.ts). */
export type HostVethState = { exists: false } | { exists: true; owner: VethOwner | undefined };

/**
 * ADD's `link add` found the host veth name taken. Thrown for the backend
 * to decide (veth-owner.ts onAddCollision): replace a stale sandbox's veth,
 * or refuse.
 */
export class HostVethTaken extends Error {
  constructor(
    readonly hostIf: string,
    readonly owner: VethOwner | undefined,
  ) {
    super(`host interface ${hostIf} already exists`);
    this.name = "HostVethTaken";
  }
}

/**
 * The spec code for a failed kernel operation (SPEC.md "Error"): the kernel
 * refused it, 5 (I/O failure); our `ip`/`sh` helper process died under it,
 * 11 (try again later: the next call starts a fresh one).
 */
function kernelError(what: string, e: unknown): CniError {
  if (e instanceof CniError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  // The helper process died, hung or is closing: the request itself may be fine.
  const helperGone = e instanceof LineSessionError && e.code !== "TRELLIS_ELINESESSION_NEWLINE";
  return new CniError(helperGone ? CniCode.TryAgainLater : CniCode.IoFailure, `routed veth: ${what}: ${msg}`);
}

/** Writes the node-wide sysctls a routed node needs (forwarding on). */
export async function enableForwarding(): Promise<void> {
  await writeFile("/proc/sys/net/ipv4/ip_forward", "1");
  await writeFile("/proc/sys/net/ipv6/conf/all/forwarding", "1");
}

export class RoutedVethDataplane {
  /**
   * The host side runs through long-lived `ip -force -batch -` sessions: no
   * spawn per ADD (a spawn from the agent costs 3–5 ms, a line ~0.2 ms).
   */
  private readonly host = new LineSessionPool(4, {
    argv: [IP, "-force", "-batch", "-"],
    name: "ip session",
    protocol: IP_BATCH_PROTOCOL,
  });
  /** The pod side runs through small long-lived shells (sh-pool.ts): no fork of the agent. */
  private readonly sh = new ShPool(8);

  /**
   * Step 1 of ADD: the veth pair, host end up (needs no address, so it runs
   * while IPAM allocates). Throws CniError; leaves nothing behind on failure.
   */
  async createLink(s: Omit<VethSpec, "addresses">): Promise<void> {
    // The path travels inside `ip -batch` lines, which split on blanks.
    if (!s.netns.startsWith("/") || /[\s"'\\]/.test(s.netns)) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `CNI_NETNS: ${JSON.stringify(s.netns)} is not a usable path`,
      );
    }
    // Twice at most: a stale veth may vanish between our add and our look
    // (its old netns being destroyed by the kernel takes the pair with it).
    for (let attempt = 0; ; attempt++) {
      const { failures } = await this.host.run(planLink(s)).catch((e: unknown) => {
        throw kernelError(`creating ${s.hostIf}`, e);
      });
      const add = failures.find((f) => f.index === 0);
      if (add === undefined) return;
      if (/File exists/.test(add.message)) {
        // Either the host veth name is taken or the pod already has CNI_IFNAME.
        const host = await this.readHostVeth(s.hostIf);
        if (host.exists) throw new HostVethTaken(s.hostIf, host.owner);
        if (attempt === 0) continue;
        throw new CniError(
          CniCode.AttachmentExists,
          `routed veth: interface ${s.podIf} already exists in ${s.netns}`,
        );
      }
      if (/netns|No such file|Invalid/i.test(add.message)) {
        throw new CniError(CniCode.InvalidEnvironment, `CNI_NETNS ${s.netns}: ${add.message}`);
      }
      throw new CniError(CniCode.IoFailure, `routed veth: creating ${s.hostIf}: ${add.message}`);
    }
  }

  /**
   * The host veth and its owner marker, read from the kernel (one `ip -j`
   * run by a pooled shell: no fork of the agent). Throws CniError 5 or 11.
   */
  async readHostVeth(hostIf: string): Promise<HostVethState> {
    const r = await this.sh
      .run([IP, "-j", "link", "show", "dev", hostIf].map(shQuote).join(" "))
      .catch((e: unknown) => {
        throw kernelError(`reading ${hostIf}`, e);
      });
    if (r.code !== 0) {
      if (isNotFound(r.output)) return { exists: false };
      throw new CniError(CniCode.IoFailure, `routed veth: reading ${hostIf}: ${r.output}`);
    }
    let links: IpLink[];
    try {
      links = JSON.parse(r.output) as IpLink[];
    } catch {
      throw new CniError(CniCode.IoFailure, `routed veth: reading ${hostIf}: ${r.output.slice(0, 200)}`);
    }
    const l = links[0];
    return l === undefined ? { exists: false } : { exists: true, owner: parseOwnerMarker(l.ifalias) };
  }

  /**
   * Step 2 of ADD: sysctls of the host end, then the pod side (one `ip`
   * exec in the pod namespace) and the host routes, in parallel. On failure
   * the veth is deleted again.
   */
  async configure(s: VethSpec): Promise<void> {
    try {
      // One shell job: the host end's sysctls (shell builtins, in the node
      // namespace, before the pod end comes up), then the pod side.
      const sysctls = planSysctls(s.hostIf)
        .map(([p, v]) => `printf %s ${shQuote(v)} > ${shQuote(p)}`)
        .join(" && ");
      const { file, args } = podIpArgs(s.netns);
      const cmd = [file, ...args, "-batch", "-"].map(shQuote).join(" ");
      const [pod, routes] = await Promise.all([
        this.sh.run(`${sysctls} && ${withStdin(cmd, planPod(s))}`),
        this.host.run([...planOwnerMarker(s.hostIf, s.owner), ...planHostRoutes(s.hostIf, s.addresses)]),
      ]);
      if (pod.code !== 0)
        throw new CniError(CniCode.IoFailure, `routed veth: pod side failed: ${pod.output}`);
      if (routes.failures.length > 0) {
        throw new CniError(
          CniCode.IoFailure,
          `routed veth: host side: ${routes.failures.map((r) => r.message).join("; ")}`,
        );
      }
    } catch (e) {
      await this.del(s.hostIf).catch(() => undefined);
      throw kernelError("configuring", e);
    }
  }

  /** The whole ADD dataplane (createLink then configure). */
  async add(s: VethSpec): Promise<void> {
    await this.createLink(s);
    await this.configure(s);
  }

  /** Deletes the host veth (its peer and routes go with it). Idempotent. */
  async del(hostIf: string): Promise<void> {
    const {
      failures: [f],
    } = await this.host.run([`link del ${hostIf}`]).catch((e: unknown) => {
      throw kernelError(`deleting ${hostIf}`, e);
    });
    if (f !== undefined && !isNotFound(f.message)) {
      throw new CniError(CniCode.IoFailure, `routed veth: deleting ${hostIf}: ${f.message}`);
    }
  }

  close(): void {
    void this.host.close();
    this.sh.close();
  }

  /**
   * CHECK (SPEC.md "CHECK: Check container's networking is as expected"):
   * the link, addresses and routes must match what ADD made. Returns the
   * list of drifts (empty when all is well).
   */
  async check(s: {
    hostIf: string;
    /** The attachment asking: a host veth marked for another one is drift. */
    owner?: VethOwner;
    podIf: string;
    netns: string;
    mtu: number;
    addresses: readonly string[];
  }): Promise<string[]> {
    const drift: string[] = [];
    const [hostLink, podLinks, hostR4, hostR6, podR4, podR6] = await Promise.all([
      ipJson<IpLink>(["link", "show", "dev", s.hostIf]),
      ipJson<IpLink>(["addr", "show", "dev", s.podIf], s.netns),
      ipJson<IpRoute>(["route", "show", "dev", s.hostIf]),
      ipJson<IpRoute>(["-6", "route", "show", "dev", s.hostIf]),
      ipJson<IpRoute>(["route", "show"], s.netns),
      ipJson<IpRoute>(["-6", "route", "show"], s.netns),
    ]);
    if (!Array.isArray(hostLink) || hostLink.length === 0) return [`host interface ${s.hostIf} is missing`];
    const hl = hostLink[0];
    const marked = parseOwnerMarker(hl?.ifalias);
    if (s.owner !== undefined && marked !== undefined) {
      if (!sameOwner(marked, s.owner)) {
        // Its name is the pod's, but a newer sandbox of the pod has replaced it.
        return [
          `host interface ${s.hostIf} belongs to container ${marked.containerID} (${marked.ifname}), not to ${s.owner.containerID}`,
        ];
      }
    }
    if (!Array.isArray(podLinks) || podLinks.length === 0)
      return [`interface ${s.podIf} is missing in ${s.netns}`];
    const pl = podLinks[0];
    if (hl?.flags?.includes("UP") !== true) drift.push(`host interface ${s.hostIf} is down`);
    if (pl?.flags?.includes("UP") !== true) drift.push(`interface ${s.podIf} is down`);
    if (hl?.mtu !== s.mtu) drift.push(`host interface MTU is ${hl?.mtu} (want ${s.mtu})`);
    if (pl?.mtu !== s.mtu) drift.push(`${s.podIf} MTU is ${pl?.mtu} (want ${s.mtu})`);
    const have = new Set(
      (pl?.addr_info ?? [])
        .filter((a) => a.family === "inet" || !a.local.startsWith("fe80"))
        .map((a) => `${a.local}/${a.prefixlen}`),
    );
    for (const a of s.addresses)
      if (!have.delete(hostPrefix(a))) drift.push(`address ${hostPrefix(a)} is missing on ${s.podIf}`);
    for (const extra of have) drift.push(`unexpected address ${extra} on ${s.podIf}`);
    const hostRoutes = [...(Array.isArray(hostR4) ? hostR4 : []), ...(Array.isArray(hostR6) ? hostR6 : [])];
    for (const a of s.addresses) {
      const ip = hostPrefix(a).split("/")[0];
      if (!hostRoutes.some((r) => r.dst === ip || r.dst === hostPrefix(a)))
        drift.push(`host route ${hostPrefix(a)} dev ${s.hostIf} is missing`);
    }
    const podRoutes = [...(Array.isArray(podR4) ? podR4 : []), ...(Array.isArray(podR6) ? podR6 : [])];
    if (
      s.addresses.some((a) => !isV6(a)) &&
      !podRoutes.some((r) => r.dst === "default" && r.gateway === V4_GATEWAY)
    ) {
      drift.push(`default route via ${V4_GATEWAY} is missing in the pod`);
    }
    if (
      s.addresses.some((a) => isV6(a)) &&
      !podRoutes.some((r) => r.dst === "default" && r.gateway === V6_GATEWAY)
    ) {
      drift.push(`default route via ${V6_GATEWAY} is missing in the pod`);
    }
    return drift;
  }

  /** Names of every host veth Trellis made in this namespace. */
  async hostVeths(): Promise<string[]> {
    const links = await ipJson<IpLink>(["link", "show", "type", "veth"]);
    if (!Array.isArray(links)) throw new Error(`listing links: ${links.stderr}`);
    return links.map((l) => l.ifname.split("@")[0] ?? l.ifname).filter((n) => n.startsWith(HOST_VETH_PREFIX));
  }

  /** Blackhole routes for the given block CIDRs; removes ours that are no longer wanted. */
  async syncBlackholes(cidrs: readonly string[], sweep: boolean): Promise<void> {
    const lines = cidrs.map((c) => `route replace blackhole ${c} proto ${PROTO_TRELLIS_LOCAL}`);
    if (sweep) {
      const want = new Set(cidrs);
      const [v4, v6] = await Promise.all([
        ipJson<IpRoute>(["route", "show", "proto", String(PROTO_TRELLIS_LOCAL), "type", "blackhole"]),
        ipJson<IpRoute>(["-6", "route", "show", "proto", String(PROTO_TRELLIS_LOCAL), "type", "blackhole"]),
      ]);
      for (const r of [...(Array.isArray(v4) ? v4 : []), ...(Array.isArray(v6) ? v6 : [])]) {
        const dst = r.dst.includes("/") ? r.dst : hostPrefix(r.dst);
        if (!want.has(dst)) lines.push(`route del blackhole ${dst} proto ${PROTO_TRELLIS_LOCAL}`);
      }
    }
    if (lines.length === 0) return;
    const r = await runIpBatch(lines);
    if (r.code !== 0) throw new Error(`blackhole routes: ${r.stderr}`);
  }
}
