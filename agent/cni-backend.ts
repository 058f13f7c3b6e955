/**
 * The agent's CniBackend: block IPAM (or a delegated IPAM plugin) plus the
 * routed veth. The spec layer (cni/handler.ts) has already validated env and
 * config; this file decides what an ADD, DEL, CHECK, GC and STATUS mean for
 * Trellis and keeps them safe to repeat.
 */
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type {
  AddRequest,
  AttachmentRequest,
  CheckRequest,
  CniBackend,
  CniResult,
  DelRequest,
  GcRequest,
  StatusRequest,
} from "../cni/backend.js";
import { CniCode, CniError } from "../cni/error.js";
import { delegateIpam } from "../cni/ipam-delegate.js";
import { TRELLIS_IPAM_TYPE, type TrellisIpamConfig, isTrellisIpam } from "../cni/netconf.js";
import { appendResult } from "../cni/result.js";
import { ANNOTATION_IP_ADDRS, parseList, poolNamesFromAnnotations } from "./ipam/block-allocator.js";
import { type Allocated, IpamError, type IpamService, handleFor } from "./ipam/ipam-service.js";
import { HostVethTaken, type RoutedVethDataplane } from "./dataplane/dataplane.js";
import { HOST_VETH_MAC, V4_GATEWAY, V6_GATEWAY, podMac, podRoutes } from "./dataplane/routed-veth.js";
import { hostVethName } from "../net/veth-name.js";
import {
  type VethOwner,
  mayDeleteOnDel,
  mayDeleteOnGc,
  onAddCollision,
  sameOwner,
} from "./dataplane/veth-owner.js";
import { KeyedLock } from "./keyed-lock.js";

/** What the backend needs to know about pods and namespaces (from informers). */
export interface ClusterView {
  ready(): boolean;
  /** Why not ready (for STATUS and code 11 messages). */
  notReadyReason(): string;
  podAnnotations(namespace: string, pod: string): Promise<Record<string, string>>;
  namespace(name: string): { labels: Record<string, string>; annotations: Record<string, string> };
}

/** Who the attachment is, for policy: a pod, or (without Kubernetes args) container + ifname. */
export interface PolicyAttachment {
  readonly k8s?: { namespace: string; pod: string };
  readonly containerID: string;
  readonly ifname: string;
  /** metadata.uid of the pod (K8S_POD_UID), when the runtime gave it. */
  readonly podUid?: string;
  /** Bare addresses from IPAM (no prefix length). */
  readonly ips: readonly string[];
}

export interface PolicyHooks {
  /** Called as ADD starts: fetch what `attached` will need while IPAM and the veth proceed. */
  prepare?(a: Omit<PolicyAttachment, "ips">): void;
  attached(a: PolicyAttachment): Promise<void>;
  detached(a: Omit<PolicyAttachment, "ips">): void;
}

export interface BackendOptions {
  ipam: IpamService;
  dataplane: RoutedVethDataplane;
  cluster: ClusterView;
  log: Logger;
  defaultMtu: number;
  /** Called after the set of pods on this node changed (route/policy sync hooks). */
  onAttachmentsChanged?: () => void;
  /**
   * Policy enforcement (agent/policy/): `attached` resolves once the pod's
   * rules are in the kernel (docs/architecture.md: a pod selected by any policy is
   * isolated before its ADD returns); `detached` forgets the attachment.
   */
  policy?: PolicyHooks;
  /** Counts addresses released by GC (metrics). */
  onGcReleased?: (n: number) => void;
}

function k8sOf(req: AttachmentRequest): { namespace: string; pod: string } | undefined {
  const { podNamespace, podName } = req.args.k8s;
  return podNamespace !== undefined && podName !== undefined
    ? { namespace: podNamespace, pod: podName }
    : undefined;
}

type PodRef = { namespace: string; pod: string };

/** The policy hooks' view of an attachment (identity, no addresses). */
function attachmentOf(req: AttachmentRequest): Omit<PolicyAttachment, "ips"> {
  const k8s = k8sOf(req);
  const uid = req.args.k8s.podUid;
  return {
    ...(k8s ? { k8s } : {}),
    containerID: req.containerID,
    ifname: req.ifname,
    ...(uid !== undefined && uid !== "" ? { podUid: uid } : {}),
  };
}

function ownerOf(req: AttachmentRequest): VethOwner {
  return { containerID: req.containerID, ifname: req.ifname };
}

/** The same addresses, in any order. */
function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join(",") === [...b].sort().join(",");
}

function toCni(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof IpamError) {
    const code = e.code ?? (e.retryable ? CniCode.TryAgainLater : CniCode.Internal);
    return new CniError(code, `trellis-ipam: ${e.message}`);
  }
  return new CniError(CniCode.Internal, `internal error: ${e instanceof Error ? e.message : String(e)}`);
}

export class TrellisBackend implements CniBackend {
  /**
   * ADD, DEL and GC of one host veth name run one at a time: each reads the
   * veth's owner from the kernel, then acts by name (veth-owner.ts).
   */
  private readonly vethLock = new KeyedLock();

  constructor(private readonly o: BackendOptions) {}

  private requireReady(): void {
    if (!this.o.cluster.ready()) {
      throw new CniError(
        CniCode.TryAgainLater,
        `trellis agent is not ready: ${this.o.cluster.notReadyReason()}`,
      );
    }
  }

  private usesTrellisIpam(req: AttachmentRequest | GcRequest): boolean {
    return req.config.ipam === undefined || isTrellisIpam(req.config.ipam);
  }

  /** The host veth of an attachment and its pod; without K8s args, the pod recorded at allocation. */
  private hostIfFor(req: AttachmentRequest): { hostIf: string; pod: PodRef | undefined } {
    const k8s = k8sOf(req);
    if (k8s !== undefined) return { hostIf: hostVethName(k8s), pod: k8s };
    const handle = handleFor(req.containerID, req.ifname);
    const a = this.o.ipam.findAllocation(handle);
    if (a?.namespace !== undefined && a.pod !== undefined) {
      const pod = { namespace: a.namespace, pod: a.pod };
      return { hostIf: hostVethName(pod), pod };
    }
    return { hostIf: hostVethName({ containerID: req.containerID, ifname: req.ifname }), pod: undefined };
  }

  /**
   * The attachments trellis-ipam holds addresses for, for this pod on this
   * node (or, without a pod, for this attachment's own handle), oldest
   * allocation first: the owner of a host veth that carries no marker
   * (veth-owner.ts). Only read when a veth is unmarked or a name is taken,
   * never on the common path.
   */
  private ipamOwners(pod: PodRef | undefined, me: VethOwner, skipOwnHandle: boolean): VethOwner[] {
    const mine = handleFor(me.containerID, me.ifname);
    const out: VethOwner[] = [];
    const born = (t: string | undefined): number => {
      const ms = t === undefined ? Number.NaN : Date.parse(t);
      return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
    };
    const allocs = this.o.ipam.nodeAllocations().sort((x, y) => {
      const [bx, by] = [born(x.timestamp), born(y.timestamp)];
      return bx === by ? 0 : bx < by ? -1 : 1;
    });
    for (const a of allocs) {
      if (skipOwnHandle && a.handle === mine) continue;
      const ofPod =
        pod !== undefined ? a.namespace === pod.namespace && a.pod === pod.pod : a.handle === mine;
      if (!ofPod || a.containerID === undefined || a.ifname === undefined) continue;
      const o = { containerID: a.containerID, ifname: a.ifname };
      if (!out.some((x) => sameOwner(x, o))) out.push(o);
    }
    return out;
  }

  private async allocate(req: AddRequest, onPlanned?: (addresses: string[]) => void): Promise<string[]> {
    const k8s = k8sOf(req);
    const ipamConf = (
      isTrellisIpam(req.config.ipam) ? req.config.ipam : { type: TRELLIS_IPAM_TYPE }
    ) as TrellisIpamConfig;
    const podAnn = k8s ? await this.o.cluster.podAnnotations(k8s.namespace, k8s.pod) : {};
    const ns = k8s ? this.o.cluster.namespace(k8s.namespace) : { labels: {}, annotations: {} };
    const fromAnn = poolNamesFromAnnotations(podAnn, ns.annotations);
    const requested =
      parseList(podAnn[ANNOTATION_IP_ADDRS]) ??
      (req.config.runtimeConfig?.ips ?? []).map((ip) => ip.split("/")[0] ?? ip);
    const allocated = await this.o.ipam.allocate({
      handle: handleFor(req.containerID, req.ifname),
      requestedIps: requested,
      poolNames: {
        4: ipamConf.assignIpv4 === false ? [] : (fromAnn[4] ?? ipamConf.ipv4Pools),
        6: ipamConf.assignIpv6 === false ? [] : (fromAnn[6] ?? ipamConf.ipv6Pools),
      },
      namespaceLabels: ns.labels,
      attributes: {
        namespace: k8s?.namespace,
        pod: k8s?.pod,
        containerID: req.containerID,
        ifname: req.ifname,
      },
      ...(onPlanned !== undefined
        ? { onPlanned: (p: Allocated[]) => onPlanned(p.map((a) => `${a.address}/${a.prefix}`)) }
        : {}),
    });
    return allocated.map((a) => `${a.address}/${a.prefix}`);
  }

  async add(req: AddRequest): Promise<CniResult> {
    const trellisIpam = this.usesTrellisIpam(req);
    if (trellisIpam) this.requireReady();
    const hostIf = hostVethName(k8sOf(req) ?? { containerID: req.containerID, ifname: req.ifname });
    return this.vethLock.run(hostIf, () => this.addLocked(req, trellisIpam, hostIf));
  }

  /**
   * Step 1 of ADD's dataplane, with the rule for a taken name: a stale veth
   * of an older sandbox of this pod is replaced; this attachment's own (ADD
   * twice) or a sibling interface's is refused, code 101, left intact.
   */
  private async createLink(
    link: Parameters<RoutedVethDataplane["createLink"]>[0] & { owner: VethOwner },
    pod: PodRef | undefined,
    trellisIpam: boolean,
    heldBefore: boolean,
  ): Promise<void> {
    const me = link.owner;
    try {
      await this.o.dataplane.createLink(link);
      return;
    } catch (e) {
      if (!(e instanceof HostVethTaken)) throw e;
      // IPAM may be allocating for this very ADD right now: its fresh
      // allocation is not an earlier holder.
      const holders = trellisIpam ? this.ipamOwners(pod, me, !heldBefore) : [];
      const d = onAddCollision(me, e.owner, holders);
      if (d.action === "refuse") {
        throw new CniError(
          CniCode.AttachmentExists,
          d.why === "same-attachment"
            ? `routed veth: host interface ${link.hostIf} already exists for this attachment (${me.containerID}, ${me.ifname}): ADD twice without DEL`
            : `routed veth: host interface ${link.hostIf} already exists for interface ${d.holder.ifname} of this container: the pod's host veth name allows one trellis interface per pod`,
        );
      }
      this.o.log.info(
        { hostIf: link.hostIf, containerID: me.containerID, previous: d.previous ?? "unknown (no marker)" },
        "ADD replaces the host veth of an older sandbox of this pod",
      );
    }
    // Detached, not deleted: the name is free at once, the kernel's slow
    // unregister runs in the background (dataplane.ts detach).
    const old = await this.o.dataplane.readHostVeth(link.hostIf);
    if (old.exists) await this.o.dataplane.detach(link.hostIf, old.index);
    try {
      await this.o.dataplane.createLink(link);
    } catch (e) {
      // We hold the name's lock: only something outside the agent made it again.
      if (e instanceof HostVethTaken) {
        throw new CniError(CniCode.TryAgainLater, `routed veth: ${e.message} again after replacing it`);
      }
      throw e;
    }
  }

  private async addLocked(req: AddRequest, trellisIpam: boolean, hostIf: string): Promise<CniResult> {
    const k8s = k8sOf(req);
    const mtu = req.config.mtu ?? this.o.defaultMtu;
    // A repeated ADD for a live attachment gets its own addresses back from
    // IPAM; the failure that follows (the interface exists) must not free them.
    const handle = handleFor(req.containerID, req.ifname);
    const heldBefore = trellisIpam && this.o.ipam.findAllocation(handle) !== undefined;
    const mac = req.config.runtimeConfig?.mac ?? podMac(`${req.containerID}.${req.ifname}`);
    const link = { hostIf, podIf: req.ifname, netns: req.netns, mtu, podMac: mac, owner: ownerOf(req) };
    const t0 = performance.now();
    const att = attachmentOf(req);
    this.o.policy?.prepare?.(att);
    // IPAM (an API write) and the veth creation (a kernel call) are
    // independent: run them at once. Trellis IPAM plans the addresses before
    // its write goes out; the pod side, host routes and policy are set up
    // with them while the write is in flight (early), and the ADD answers
    // only once the write has landed: nothing is reported, nor survives a
    // crash of the agent, that the API does not hold. Should the write lose
    // a race and the addresses change, the veth is made again with them.
    const linkP = this.createLink(link, k8s, trellisIpam, heldBefore);
    let early: { addresses: string[]; configured: Promise<void>; policy?: Promise<void> } | undefined;
    /** Set once the early policy attach was asked for (it needs the veth: never for an ADD that could not make it). */
    let earlyAttached = false;
    const onPlanned = (addresses: string[]): void => {
      if (early !== undefined) return; // a re-plan after a conflict: settled below
      const configured = linkP.then(() => this.o.dataplane.configure({ ...link, addresses }));
      configured.catch(() => undefined); // awaited below
      const hooks = this.o.policy;
      const policy =
        hooks === undefined
          ? undefined
          : linkP.then(() => {
              earlyAttached = true;
              return hooks.attached({ ...att, ips: addresses.map((a) => a.split("/")[0] ?? a) });
            });
      policy?.catch(() => undefined);
      early = { addresses, configured, ...(policy !== undefined ? { policy } : {}) };
    };
    const ipamP = (async (): Promise<{ addresses: string[]; result?: CniResult }> => {
      if (trellisIpam) return { addresses: await this.allocate(req, onPlanned) };
      const result = await delegateIpam("ADD", req);
      // A routed veth has no subnet: each address becomes a host address.
      const addresses = (result?.ips ?? []).map((ip) => ip.address);
      if (addresses.length === 0) {
        throw new CniError(CniCode.Internal, `${req.config.ipam?.type}: IPAM plugin returned no address`);
      }
      return { addresses, ...(result !== undefined ? { result } : {}) };
    })();
    let ipamMs = 0;
    let linkMs = 0;
    const [ipamR, linkR] = await Promise.allSettled([
      ipamP.finally(() => (ipamMs = performance.now() - t0)),
      linkP.finally(() => (linkMs = performance.now() - t0)),
    ]);
    const undoIpam = async (): Promise<void> => {
      // Nothing may stay allocated for a failed ADD.
      if (heldBefore || ipamR.status !== "fulfilled") return;
      await this.releaseIpam(req).catch((err: unknown) =>
        this.o.log.warn({ err: String(err), containerID: req.containerID }, "release after failed ADD"),
      );
    };
    // Whatever the outcome, the early work must be over before anything is undone.
    const settleEarly = async (): Promise<void> => {
      await early?.configured.catch(() => undefined);
      await early?.policy?.catch(() => undefined);
    };
    if (linkR.status === "rejected") {
      await settleEarly();
      await undoIpam();
      throw toCni(linkR.reason);
    }
    if (ipamR.status === "rejected") {
      await settleEarly();
      if (earlyAttached) this.o.policy?.detached(att);
      await this.o.dataplane.del(hostIf).catch(() => undefined);
      throw toCni(ipamR.reason);
    }
    const { addresses, result: ipamResult } = ipamR.value;
    const t1 = performance.now();
    let configured: Promise<void>;
    let policyP: Promise<void> | undefined;
    if (early !== undefined && sameAddresses(early.addresses, addresses)) {
      configured = early.configured;
      policyP = early.policy;
    } else {
      if (early !== undefined) {
        // The write granted other addresses than planned: start over with them.
        await settleEarly();
        if (earlyAttached) this.o.policy?.detached(att);
        await this.o.dataplane.del(hostIf).catch(() => undefined);
        configured = this.o.dataplane
          .createLink(link)
          .then(() => this.o.dataplane.configure({ ...link, addresses }));
      } else {
        configured = this.o.dataplane.configure({ ...link, addresses });
      }
      // The rules name the veth and the addresses, both known now: apply them
      // while the pod side is configured (nft matches interface names, so the
      // link need not be up). ADD returns only when both are done.
      policyP = this.o.policy?.attached({ ...att, ips: addresses.map((a) => a.split("/")[0] ?? a) });
    }
    policyP?.catch(() => undefined); // awaited below; configure may fail first
    try {
      await configured;
    } catch (e) {
      await policyP?.catch(() => undefined);
      this.o.policy?.detached(att);
      await undoIpam();
      throw toCni(e);
    }
    /** How long the ADD still waited for its policy rules once the pod side was configured. */
    const t2 = performance.now();
    if (policyP !== undefined) {
      try {
        await policyP;
      } catch (e) {
        // Never return a pod whose rules are not in place: undo the whole ADD.
        this.o.policy?.detached(att);
        await this.o.dataplane.del(hostIf).catch(() => undefined);
        await undoIpam();
        throw new CniError(
          CniCode.TryAgainLater,
          `trellis policy: ${e instanceof Error ? e.message : String(e)}; the ADD was rolled back`,
        );
      }
    }
    this.o.onAttachmentsChanged?.();
    this.o.log.debug(
      {
        containerID: req.containerID,
        hostIf,
        addresses,
        startedAt: performance.timeOrigin + t0,
        ipamMs,
        linkMs,
        configureMs: performance.now() - t1,
        policyWaitMs: performance.now() - t2,
      },
      "ADD",
    );
    const own: CniResult = {
      interfaces: [
        { name: hostIf, mac: HOST_VETH_MAC, mtu },
        { name: req.ifname, mac: mac.toLowerCase(), mtu, sandbox: req.netns },
      ],
      ips: addresses.map((a) => ({
        address: a.includes(":") ? `${a.split("/")[0]}/128` : `${a.split("/")[0]}/32`,
        gateway: a.includes(":") ? V6_GATEWAY : V4_GATEWAY,
        interface: 1,
      })),
      routes: podRoutes(addresses),
      dns: (req.config.dns as CniResult["dns"] | undefined) ?? ipamResult?.dns ?? {},
    };
    return req.prevResult !== undefined ? appendResult(req.prevResult, own) : own;
  }

  private async releaseIpam(req: AttachmentRequest): Promise<void> {
    if (this.usesTrellisIpam(req)) {
      await this.o.ipam.release([handleFor(req.containerID, req.ifname)]);
    } else {
      await delegateIpam("DEL", req);
    }
  }

  async del(req: DelRequest): Promise<void> {
    const trellisIpam = this.usesTrellisIpam(req);
    if (trellisIpam) this.requireReady();
    const { hostIf, pod } = this.hostIfFor(req);
    await this.vethLock.run(hostIf, () => this.delLocked(req, trellisIpam, hostIf, pod));
  }

  private async delLocked(
    req: DelRequest,
    trellisIpam: boolean,
    hostIf: string,
    pod: PodRef | undefined,
  ): Promise<void> {
    // Only the veth's owner may delete it (veth-owner.ts): the late DEL of
    // a pod's old sandbox leaves the new sandbox's veth, and with it the new
    // pod's routes, alone. Routes are never deleted by address: each goes
    // with its own veth, so an address now routed to another veth keeps
    // its route. Decided before the release: IPAM's holders are the owner
    // of an unmarked veth.
    const me = ownerOf(req);
    const seen = await this.o.dataplane.readHostVeth(hostIf);
    const mine =
      seen.exists &&
      mayDeleteOnDel(
        me,
        seen.owner,
        seen.owner === undefined && trellisIpam ? this.ipamOwners(pod, me, false) : [],
      );
    // The veth's detach (down, its routes gone, renamed; the kernel's slow
    // delete follows in the background: dataplane.ts detach) and the IPAM
    // write are independent; a reused address gets its route replaced by
    // the next ADD.
    const t0 = performance.now();
    const timed = async (p: Promise<void>): Promise<number> => {
      await p;
      return performance.now() - t0;
    };
    const [link, ipam] = await Promise.allSettled([
      timed(mine && seen.exists ? this.o.dataplane.detach(hostIf, seen.index) : Promise.resolve()),
      timed(this.releaseIpam(req)),
    ]);
    this.o.log.debug(
      {
        containerID: req.containerID,
        hostIf,
        linkMs: link.status === "fulfilled" ? link.value : -1,
        ipamMs: ipam.status === "fulfilled" ? ipam.value : -1,
      },
      "DEL",
    );
    if (seen.exists && !mine) {
      this.o.log.info(
        { hostIf, containerID: req.containerID, owner: seen.owner?.containerID ?? "per IPAM" },
        "DEL of an older sandbox: its addresses released, the pod's current host veth kept",
      );
    }
    if (link.status === "rejected") throw toCni(link.reason);
    if (ipam.status === "rejected") throw toCni(ipam.reason);
    // The policy hooks forget only this attachment's own (a newer sandbox's stays).
    this.o.policy?.detached(attachmentOf(req));
    this.o.onAttachmentsChanged?.();
  }

  async check(req: CheckRequest): Promise<void> {
    if (this.usesTrellisIpam(req)) this.requireReady();
    const prev = req.prevResult;
    const podIdx = prev.interfaces.findIndex((i) => i.name === req.ifname && (i.sandbox ?? "") !== "");
    if (podIdx < 0) {
      // prevResult is part of the network config (SPEC.md "CHECK"): a bad one is code 7.
      throw new CniError(
        CniCode.InvalidNetworkConfig,
        `CHECK: prevResult has no interface ${req.ifname} in a sandbox`,
      );
    }
    const addresses = prev.ips.filter((ip) => ip.interface === podIdx).map((ip) => ip.address);
    const drift = await this.o.dataplane.check({
      hostIf: this.hostIfFor(req).hostIf,
      owner: ownerOf(req),
      podIf: req.ifname,
      netns: req.netns,
      mtu: prev.interfaces[podIdx]?.mtu ?? req.config.mtu ?? this.o.defaultMtu,
      addresses,
    });
    if (this.usesTrellisIpam(req)) {
      const handle = handleFor(req.containerID, req.ifname);
      const held = new Set(
        this.o.ipam
          .nodeAllocations()
          .filter((a) => a.handle === handle)
          .map((a) => a.ordinal),
      );
      if (held.size === 0) drift.push(`trellis-ipam holds no address for ${handle}`);
    }
    if (drift.length > 0) {
      throw new CniError(CniCode.CheckFailed, `CHECK failed: ${drift.join("; ")}`);
    }
  }

  async gc(req: GcRequest): Promise<void> {
    if (!this.usesTrellisIpam(req)) {
      await delegateIpam("GC", req).catch((e: unknown) => {
        throw toCni(e);
      });
      return;
    }
    this.requireReady();
    const valid = new Set(req.validAttachments.map((a) => handleFor(a.containerID, a.ifname)));
    const all = this.o.ipam.nodeAllocations();
    const stale = all.filter((a) => !valid.has(a.handle));
    const isValid = (o: VethOwner): boolean => valid.has(handleFor(o.containerID, o.ifname));
    const seenHandles = new Set<string>();
    for (const a of stale) {
      if (seenHandles.has(a.handle)) continue; // one per attachment, not per address
      seenHandles.add(a.handle);
      const pod =
        a.namespace !== undefined && a.pod !== undefined ? { namespace: a.namespace, pod: a.pod } : undefined;
      const hostIf = hostVethName(pod ?? { containerID: a.containerID ?? "", ifname: a.ifname ?? "" });
      // A live pod of the same name may own this veth (a newer sandbox): keep it.
      const podHasValid =
        pod !== undefined &&
        all.some((b) => valid.has(b.handle) && b.namespace === pod.namespace && b.pod === pod.pod);
      await this.vethLock.run(hostIf, async () => {
        const seen = await this.o.dataplane.readHostVeth(hostIf).catch(() => undefined);
        if (seen?.exists === true && mayDeleteOnGc(seen.owner, isValid, podHasValid)) {
          await this.o.dataplane.detach(hostIf, seen.index).catch(() => undefined);
        }
      });
      // Forgets only the stale attachment's own (a newer sandbox's stays).
      this.o.policy?.detached({
        ...(pod !== undefined ? { k8s: pod } : {}),
        containerID: a.containerID ?? "",
        ifname: a.ifname ?? "",
      });
    }
    try {
      const n = await this.o.ipam.release(stale.map((a) => a.handle));
      if (n > 0) this.o.log.info({ released: n }, "GC released stale allocations");
      this.o.onGcReleased?.(n);
    } catch (e) {
      throw toCni(e);
    }
  }

  status(_req: StatusRequest): Promise<void> {
    if (!this.o.cluster.ready()) {
      return Promise.reject(
        new CniError(CniCode.NotAvailable, `trellis agent is not ready: ${this.o.cluster.notReadyReason()}`),
      );
    }
    return Promise.resolve();
  }
}
