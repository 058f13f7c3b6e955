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
import { IpamError, type IpamService, handleFor } from "./ipam/ipam-service.js";
import type { RoutedVethDataplane } from "./dataplane/dataplane.js";
import { HOST_VETH_MAC, V4_GATEWAY, V6_GATEWAY, podMac, podRoutes } from "./dataplane/routed-veth.js";
import { hostVethName } from "./dataplane/veth-name.js";

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
   * rules are in the kernel (DESIGN.md: a pod selected by any policy is
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

function toCni(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof IpamError) {
    const code = e.code ?? (e.retryable ? CniCode.TryAgainLater : CniCode.Internal);
    return new CniError(code, `trellis-ipam: ${e.message}`);
  }
  return new CniError(CniCode.Internal, `internal error: ${e instanceof Error ? e.message : String(e)}`);
}

export class TrellisBackend implements CniBackend {
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

  /** The host veth of an attachment; without K8s args, the name recorded at allocation. */
  private hostIfFor(req: AttachmentRequest): string {
    const k8s = k8sOf(req);
    if (k8s !== undefined) return hostVethName(k8s, req.containerID, req.ifname);
    const handle = handleFor(req.containerID, req.ifname);
    const a = this.o.ipam.findAllocation(handle);
    if (a?.namespace !== undefined && a.pod !== undefined) {
      return hostVethName({ namespace: a.namespace, pod: a.pod }, req.containerID, req.ifname);
    }
    return hostVethName(undefined, req.containerID, req.ifname);
  }

  private async allocate(req: AddRequest): Promise<string[]> {
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
    });
    return allocated.map((a) => `${a.address}/${a.prefix}`);
  }

  async add(req: AddRequest): Promise<CniResult> {
    const trellisIpam = this.usesTrellisIpam(req);
    if (trellisIpam) this.requireReady();
    const k8s = k8sOf(req);
    const hostIf = hostVethName(k8s, req.containerID, req.ifname);
    const mtu = req.config.mtu ?? this.o.defaultMtu;
    // A repeated ADD for a live attachment gets its own addresses back from
    // IPAM; the failure that follows (the interface exists) must not free them.
    const handle = handleFor(req.containerID, req.ifname);
    const heldBefore = trellisIpam && this.o.ipam.findAllocation(handle) !== undefined;
    const mac = req.config.runtimeConfig?.mac ?? podMac(`${req.containerID}.${req.ifname}`);
    const link = { hostIf, podIf: req.ifname, netns: req.netns, mtu, podMac: mac };
    const t0 = performance.now();
    this.o.policy?.prepare?.({ ...(k8s ? { k8s } : {}), containerID: req.containerID, ifname: req.ifname });
    // IPAM (an API write) and the veth creation (a kernel call) are
    // independent: run them at once, then configure with the addresses.
    const ipamP = (async (): Promise<{ addresses: string[]; result?: CniResult }> => {
      if (trellisIpam) return { addresses: await this.allocate(req) };
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
      this.o.dataplane.createLink(link).finally(() => (linkMs = performance.now() - t0)),
    ]);
    const undoIpam = async (): Promise<void> => {
      // Nothing may stay allocated for a failed ADD.
      if (heldBefore || ipamR.status !== "fulfilled") return;
      await this.releaseIpam(req).catch((err: unknown) =>
        this.o.log.warn({ err: String(err), containerID: req.containerID }, "release after failed ADD"),
      );
    };
    if (linkR.status === "rejected") {
      await undoIpam();
      throw toCni(linkR.reason);
    }
    if (ipamR.status === "rejected") {
      await this.o.dataplane.del(hostIf).catch(() => undefined);
      throw toCni(ipamR.reason);
    }
    const { addresses, result: ipamResult } = ipamR.value;
    const t1 = performance.now();
    // The rules name the veth and the addresses, both known now: apply them
    // while the pod side is configured (nft matches interface names, so the
    // link need not be up). ADD returns only when both are done.
    const att = { ...(k8s ? { k8s } : {}), containerID: req.containerID, ifname: req.ifname };
    const policyP = this.o.policy?.attached({ ...att, ips: addresses.map((a) => a.split("/")[0] ?? a) });
    policyP?.catch(() => undefined); // awaited below; configure may fail first
    try {
      await this.o.dataplane.configure({ ...link, addresses });
    } catch (e) {
      this.o.policy?.detached(att);
      await undoIpam();
      throw toCni(e);
    }
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
    // The veth delete (slow in the kernel: an RCU grace period) and the
    // IPAM write are independent; a reused address gets its route replaced
    // by the next ADD, and the old veth's removal takes only its own routes.
    const hostIf = this.hostIfFor(req);
    const t0 = performance.now();
    const timed = async (p: Promise<void>): Promise<number> => {
      await p;
      return performance.now() - t0;
    };
    const [link, ipam] = await Promise.allSettled([
      timed(this.o.dataplane.del(hostIf)),
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
    if (link.status === "rejected") throw toCni(link.reason);
    if (ipam.status === "rejected") throw toCni(ipam.reason);
    const k8s = k8sOf(req);
    this.o.policy?.detached({ ...(k8s ? { k8s } : {}), containerID: req.containerID, ifname: req.ifname });
    this.o.onAttachmentsChanged?.();
  }

  async check(req: CheckRequest): Promise<void> {
    if (this.usesTrellisIpam(req)) this.requireReady();
    const prev = req.prevResult;
    const podIdx = prev.interfaces.findIndex((i) => i.name === req.ifname && (i.sandbox ?? "") !== "");
    if (podIdx < 0) {
      throw new CniError(CniCode.Internal, `CHECK: prevResult has no interface ${req.ifname} in a sandbox`);
    }
    const addresses = prev.ips.filter((ip) => ip.interface === podIdx).map((ip) => ip.address);
    const drift = await this.o.dataplane.check({
      hostIf: this.hostIfFor(req),
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
      throw new CniError(CniCode.Internal, `CHECK failed: ${drift.join("; ")}`);
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
    const stale = this.o.ipam.nodeAllocations().filter((a) => !valid.has(a.handle));
    for (const a of stale) {
      const hostIf =
        a.namespace !== undefined && a.pod !== undefined
          ? hostVethName({ namespace: a.namespace, pod: a.pod }, a.containerID ?? "", a.ifname ?? "")
          : hostVethName(undefined, a.containerID ?? "", a.ifname ?? "");
      // A live pod of the same name may own this veth (a newer sandbox): keep it.
      const sameVeth = this.o.ipam
        .nodeAllocations()
        .some(
          (b) => valid.has(b.handle) && b.namespace === a.namespace && b.pod === a.pod && a.pod !== undefined,
        );
      if (!sameVeth) {
        await this.o.dataplane.del(hostIf).catch(() => undefined);
        this.o.policy?.detached({
          ...(a.namespace !== undefined && a.pod !== undefined
            ? { k8s: { namespace: a.namespace, pod: a.pod } }
            : {}),
          containerID: a.containerID ?? "",
          ifname: a.ifname ?? "",
        });
      }
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
