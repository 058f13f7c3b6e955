/**
 * TrellisBackend's rules for a pod recreated under its old name, on
 * in-memory fakes of the kernel's veths and of IPAM, so orderings the real
 * kernel makes rare can be forced: a late DEL of the old sandbox whose read
 * of the veth's owner races the new sandbox's ADD.
 */
import { describe, expect, it } from "@jest/globals";
import pino from "pino";
import type { AttachmentRequest } from "../../cni/backend.js";
import { CniError } from "../../cni/error.js";
import type { TrellisNetConf } from "../../cni/netconf.js";
import { type PolicyAttachment, TrellisBackend } from "../cni-backend.js";
import { HostVethTaken, type HostVethState, type RoutedVethDataplane } from "../dataplane/dataplane.js";
import type { VethSpec } from "../dataplane/routed-veth.js";
import type { VethOwner } from "../dataplane/veth-owner.js";
import type { AllocateInput, IpamService, NodeAllocation } from "../ipam/ipam-service.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The node's veths by name, each with the owner marker ADD wrote. */
class FakeDataplane {
  readonly veths = new Map<string, { owner: VethOwner | undefined; addresses: readonly string[] }>();
  /** Delay of the next readHostVeth answer *after* it looked (a slow read). */
  readDelayMs = 0;

  createLink(s: Omit<VethSpec, "addresses">): Promise<void> {
    const v = this.veths.get(s.hostIf);
    if (v !== undefined) return Promise.reject(new HostVethTaken(s.hostIf, v.owner));
    this.veths.set(s.hostIf, { owner: undefined, addresses: [] });
    return Promise.resolve();
  }
  configure(s: VethSpec): Promise<void> {
    this.veths.set(s.hostIf, { owner: s.owner, addresses: s.addresses });
    return Promise.resolve();
  }
  del(hostIf: string): Promise<void> {
    this.veths.delete(hostIf);
    return Promise.resolve();
  }
  /** The name is free at once (the real one renames the link and deletes it later). */
  detach(hostIf: string, _index: number): Promise<void> {
    return this.del(hostIf);
  }
  async readHostVeth(hostIf: string): Promise<HostVethState> {
    const v = this.veths.get(hostIf);
    const seen: HostVethState =
      v === undefined ? { exists: false } : { exists: true, index: 1, owner: v.owner };
    const d = this.readDelayMs;
    this.readDelayMs = 0;
    if (d > 0) await sleep(d);
    return seen;
  }
}

/** Hands out 10.0.0.1, .2, … per handle; remembers attributes like the real one. */
class FakeIpam {
  private next = 1;
  readonly allocs: NodeAllocation[] = [];
  /** The next allocation first plans this address (onPlanned), then its write grants the real one. */
  planFirst: string | undefined;
  allocate(input: AllocateInput): Promise<{ family: 4; address: string; prefix: number; block: string }[]> {
    const mine = this.allocs.find((a) => a.handle === input.handle);
    const ordinal = mine?.ordinal ?? this.next++;
    input.onPlanned?.([
      { family: 4, address: this.planFirst ?? `10.0.0.${ordinal}`, prefix: 32, block: "b" },
    ]);
    this.planFirst = undefined;
    if (mine === undefined) {
      this.allocs.push({
        block: "b",
        ordinal,
        address: `10.0.0.${ordinal}`,
        handle: input.handle,
        namespace: input.attributes.namespace,
        pod: input.attributes.pod,
        containerID: input.attributes.containerID,
        ifname: input.attributes.ifname,
        timestamp: undefined,
      });
    }
    return Promise.resolve([{ family: 4, address: `10.0.0.${ordinal}`, prefix: 32, block: "b" }]);
  }
  release(handles: Iterable<string>): Promise<number> {
    const set = new Set(handles);
    const before = this.allocs.length;
    for (let i = this.allocs.length - 1; i >= 0; i--)
      if (set.has(this.allocs[i]?.handle ?? "")) this.allocs.splice(i, 1);
    return Promise.resolve(before - this.allocs.length);
  }
  nodeAllocations(): NodeAllocation[] {
    return [...this.allocs];
  }
  findAllocation(handle: string): { namespace: string | undefined; pod: string | undefined } | undefined {
    const a = this.allocs.find((x) => x.handle === handle);
    return a === undefined ? undefined : { namespace: a.namespace, pod: a.pod };
  }
}

function setup() {
  const dp = new FakeDataplane();
  const ipam = new FakeIpam();
  const detached: string[] = [];
  const attached: string[] = [];
  const backend = new TrellisBackend({
    ipam: ipam as unknown as IpamService,
    dataplane: dp as unknown as RoutedVethDataplane,
    cluster: {
      ready: () => true,
      notReadyReason: () => "",
      podAnnotations: () => Promise.resolve({}),
      namespace: () => ({ labels: {}, annotations: {} }),
    },
    log: pino({ level: "silent" }),
    defaultMtu: 1500,
    policy: {
      attached: (a: PolicyAttachment) => {
        attached.push(`${a.containerID}.${a.ifname} ${a.ips.join(",")}`);
        return Promise.resolve();
      },
      detached: (a) => void detached.push(`${a.containerID}.${a.ifname}`),
    },
  });
  return { dp, ipam, backend, detached, attached };
}

const config = { cniVersion: "1.1.0", name: "k8s-pod-network", type: "trellis" } as unknown as TrellisNetConf;

function req(containerID: string, pod = "web-0", ifname = "eth0"): AttachmentRequest {
  return {
    cniVersion: "1.1.0",
    config,
    path: [],
    env: {},
    stdin: Buffer.from("{}"),
    containerID,
    netns: `/var/run/netns/${containerID}`,
    ifname,
    args: { k8s: { podNamespace: "ns", podName: pod }, pairs: {} },
  };
}

const only = (dp: FakeDataplane) => [...dp.veths.values()].map((v) => v.owner?.containerID);

describe("TrellisBackend: the kernel set up while the IPAM write is in flight", () => {
  it("with the planned addresses when the write grants them: one veth, one policy attach", async () => {
    const { dp, backend, attached, detached } = setup();
    const r = await backend.add(req("c1"));
    expect(r.ips[0]?.address).toBe("10.0.0.1/32");
    expect([...dp.veths.values()].map((v) => v.addresses)).toEqual([["10.0.0.1/32"]]);
    expect(attached).toEqual(["c1.eth0 10.0.0.1"]);
    expect(detached).toEqual([]);
  });

  it("made again with the granted addresses when the write lost a race and they changed", async () => {
    const { dp, ipam, backend, attached, detached } = setup();
    ipam.planFirst = "10.0.0.99";
    const r = await backend.add(req("c1"));
    // Only what the write granted is reported and left in the kernel and the rules.
    expect(r.ips[0]?.address).toBe("10.0.0.1/32");
    expect([...dp.veths.values()].map((v) => v.addresses)).toEqual([["10.0.0.1/32"]]);
    expect(attached).toEqual(["c1.eth0 10.0.0.99", "c1.eth0 10.0.0.1"]);
    expect(detached).toEqual(["c1.eth0"]);
  });
});

describe("TrellisBackend: a pod recreated under its old name", () => {
  it("ADD of the new sandbox replaces the old veth; the old handle keeps its address", async () => {
    const { dp, ipam, backend } = setup();
    await backend.add(req("old"));
    const r = await backend.add(req("new"));
    expect(r.ips[0]?.address).toBe("10.0.0.2/32");
    expect(only(dp)).toEqual(["new"]);
    expect(ipam.allocs.map((a) => a.handle)).toEqual(["old.eth0", "new.eth0"]);
  });

  it("a late DEL of the old sandbox releases its own address only and keeps the new veth and policy", async () => {
    const { dp, ipam, backend, detached } = setup();
    await backend.add(req("old"));
    await backend.add(req("new"));
    await backend.del(req("old"));
    expect(only(dp)).toEqual(["new"]);
    expect(ipam.allocs.map((a) => a.handle)).toEqual(["new.eth0"]);
    // The hook is told whose DEL it was; the policy service keeps a newer owner's attachment.
    expect(detached).toEqual(["old.eth0"]);
    await backend.del(req("new"));
    expect(dp.veths.size).toBe(0);
    expect(ipam.allocs).toEqual([]);
  });

  it("a DEL whose owner read is slow cannot delete the veth the new sandbox's ADD made meanwhile", async () => {
    const { dp, backend } = setup();
    await backend.add(req("old"));
    dp.readDelayMs = 50; // the DEL looks, sees "old", and is slow to act on it
    const del = backend.del(req("old"));
    await sleep(5);
    const add = backend.add(req("new"));
    await Promise.all([del, add]);
    expect(only(dp)).toEqual(["new"]);
  });

  it("ADD twice for the same attachment is refused with code 101 and changes nothing", async () => {
    const { dp, ipam, backend } = setup();
    await backend.add(req("new"));
    const e = await backend.add(req("new")).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CniError);
    expect((e as CniError).code).toBe(101);
    expect(only(dp)).toEqual(["new"]);
    expect(ipam.allocs.map((a) => a.handle)).toEqual(["new.eth0"]);
  });

  it("a second interface of the same container is refused (one host veth name per pod), its address freed", async () => {
    const { dp, ipam, backend } = setup();
    await backend.add(req("c1", "web-0", "eth0"));
    const e = await backend.add(req("c1", "web-0", "net1")).catch((x: unknown) => x);
    expect((e as CniError).code).toBe(101);
    expect(only(dp)).toEqual(["c1"]);
    expect(ipam.allocs.map((a) => a.handle)).toEqual(["c1.eth0"]);
  });

  it("unmarked veth: a late DEL of the old sandbox goes by IPAM and keeps another holder's veth", async () => {
    const { dp, backend } = setup();
    await backend.add(req("old"));
    await backend.add(req("new"));
    // As an agent before markers would have left it.
    const v = dp.veths.values().next().value as { owner: VethOwner | undefined };
    v.owner = undefined;
    await backend.del(req("old"));
    expect(dp.veths.size).toBe(1);
    await backend.del(req("new"));
    expect(dp.veths.size).toBe(0);
  });

  it("GC keeps the veth of a valid newer sandbox and frees the stale handle's address", async () => {
    const { dp, ipam, backend } = setup();
    await backend.add(req("old"));
    await backend.add(req("new"));
    await backend.gc({
      cniVersion: "1.1.0",
      config,
      path: [],
      env: {},
      stdin: Buffer.from("{}"),
      validAttachments: [{ containerID: "new", ifname: "eth0" }],
    });
    expect(only(dp)).toEqual(["new"]);
    expect(ipam.allocs.map((a) => a.handle)).toEqual(["new.eth0"]);
  });
});
