// A test double of the *agent*: a CniBackend over plain in-memory state, so the
// spec layer (handler, versions, errors, delegation) can be tested alone. The
// real backend (veths, block IPAM) is the agent's and tested there.
import type {
  AddRequest,
  CheckRequest,
  CniBackend,
  DelRequest,
  GcRequest,
  StatusRequest,
} from "../backend.js";
import { CniCode, CniError } from "../error.js";
import { delegateIpam } from "../ipam-delegate.js";
import { isTrellisIpam } from "../netconf.js";
import { appendResult, type CniResult } from "../result.js";

export interface Attachment {
  containerID: string;
  ifname: string;
  netns: string;
  result: CniResult;
  podName?: string;
}

export class MemoryBackend implements CniBackend {
  readonly attachments = new Map<string, Attachment>();
  readonly calls: string[] = [];
  /** The last request of each kind, for assertions on what the handler passed. */
  last: AddRequest | DelRequest | CheckRequest | GcRequest | StatusRequest | undefined;
  ready = true;
  damaged = false;
  private next = 2;

  private key(containerID: string, ifname: string): string {
    return `${containerID}/${ifname}`;
  }

  async add(req: AddRequest): Promise<CniResult> {
    this.calls.push("ADD");
    this.last = req;
    const k = this.key(req.containerID, req.ifname);
    if (this.attachments.has(k)) {
      throw new CniError(
        CniCode.InvalidNetworkConfig,
        `interface ${req.ifname} already exists in container ${req.containerID}`,
      );
    }
    let ips: CniResult["ips"];
    if (req.config.ipam !== undefined && !isTrellisIpam(req.config.ipam)) {
      const r = await delegateIpam("ADD", req);
      ips = (r?.ips ?? []).map((ip) => ({ ...ip, interface: 1 }));
    } else if (req.config.runtimeConfig?.ips !== undefined) {
      ips = req.config.runtimeConfig.ips.map((a) => ({
        address: a.includes("/") ? a : `${a}/${a.includes(":") ? 128 : 32}`,
        interface: 1,
      }));
    } else {
      const n = this.next++;
      ips = [
        { address: `10.244.${(n >> 8) & 255}.${n & 255}/32`, interface: 1 },
        { address: `fd00:244::${n.toString(16)}/128`, interface: 1 },
      ];
    }
    const own: CniResult = {
      interfaces: [
        { name: `trl${req.containerID.slice(0, 11)}`, mac: "ee:ee:ee:ee:ee:ee" },
        {
          name: req.ifname,
          mac: req.config.runtimeConfig?.mac ?? "0a:58:0a:f4:00:02",
          sandbox: req.netns,
          ...(req.config.mtu !== undefined ? { mtu: req.config.mtu } : {}),
        },
      ],
      ips,
      routes: [
        { dst: "0.0.0.0/0", gw: "169.254.1.1" },
        { dst: "::/0", gw: "fe80::ecee:eeff:feee:eeee", mtu: 1400, priority: 1024 },
      ],
      dns: req.config.dns ?? {},
    };
    const result = req.prevResult ? appendResult(req.prevResult, own) : own;
    const att: Attachment = {
      containerID: req.containerID,
      ifname: req.ifname,
      netns: req.netns,
      result,
    };
    if (req.args.k8s.podName !== undefined) att.podName = req.args.k8s.podName;
    this.attachments.set(k, att);
    return result;
  }

  async del(req: DelRequest): Promise<void> {
    this.calls.push("DEL");
    this.last = req;
    if (req.config.ipam !== undefined && !isTrellisIpam(req.config.ipam)) {
      await delegateIpam("DEL", req);
    }
    this.attachments.delete(this.key(req.containerID, req.ifname));
  }

  async check(req: CheckRequest): Promise<void> {
    this.calls.push("CHECK");
    this.last = req;
    const att = this.attachments.get(this.key(req.containerID, req.ifname));
    if (att === undefined) {
      throw new CniError(
        CniCode.UnknownContainer,
        `container ${req.containerID} interface ${req.ifname} unknown`,
      );
    }
    const have = new Set(att.result.ips.map((i) => i.address));
    for (const ip of req.prevResult.ips) {
      if (!have.has(ip.address)) {
        throw new CniError(
          CniCode.InvalidNetworkConfig,
          `address ${ip.address} from prevResult not configured`,
        );
      }
    }
  }

  async gc(req: GcRequest): Promise<void> {
    this.calls.push("GC");
    this.last = req;
    const keep = new Set(req.validAttachments.map((a) => this.key(a.containerID, a.ifname)));
    for (const k of [...this.attachments.keys()]) if (!keep.has(k)) this.attachments.delete(k);
  }

  async status(req: StatusRequest): Promise<void> {
    this.calls.push("STATUS");
    this.last = req;
    if (this.damaged) {
      throw new CniError(CniCode.NotAvailableContainersDamaged, "dataplane lost: containers may be damaged");
    }
    if (!this.ready) {
      throw new CniError(CniCode.NotAvailable, "agent not ready: waiting for the first sync");
    }
  }
}
