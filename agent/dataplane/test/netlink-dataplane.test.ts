// The routed veth made by netlink on the real kernel: in a node namespace and
// pod namespaces this run creates (tND<pid>…; the dataplane is pointed at the
// node namespace, so the machine's own is never touched), ADD leaves exactly
// what routed-veth.ts plans (the `ip` view of it), CHECK sees drift, DEL is
// idempotent, and collisions and bad namespaces map to the CNI codes the
// backend relies on. Root only (CI is root).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { CniCode, CniError } from "../../../cni/error.js";
import { DETACHED_VETH_PREFIX, HostVethTaken, RoutedVethDataplane } from "../dataplane.js";
import { planSysctls, podMac } from "../routed-veth.js";

const tag = `tND${process.pid % 100000}`;
const NODE = `${tag}n`;
const PODS = [`${tag}a`, `${tag}b`];
const ipn = (ns: string, ...a: string[]): string =>
  execFileSync("ip", ["-n", ns, ...a], { encoding: "utf8" });
const inNs = (ns: string, ...a: string[]): string =>
  execFileSync("ip", ["netns", "exec", ns, ...a], { encoding: "utf8" }).trim();

const steps: string[] = [];
const dp = new RoutedVethDataplane({ hostNetns: `/var/run/netns/${NODE}`, onStep: (s) => steps.push(s) });
const spec = {
  hostIf: `trl${tag}0`.slice(0, 14),
  podIf: "eth0",
  netns: `/var/run/netns/${PODS[0]}`,
  mtu: 1450,
  podMac: podMac(tag),
  addresses: ["10.244.7.5/32", "fd00:244:7::5/128"],
  owner: { containerID: `c-${tag}`, ifname: "eth0" },
};

beforeAll(() => {
  for (const ns of [NODE, ...PODS]) execFileSync("ip", ["netns", "add", ns]);
});
afterAll(() => {
  for (const ns of [NODE, ...PODS]) execFileSync("ip", ["netns", "del", ns]);
});

describe("routed veth over netlink", () => {
  it("ADD makes the planned pair, settings, addresses and routes", async () => {
    await dp.add(spec);
    const [host] = JSON.parse(ipn(NODE, "-j", "-d", "link", "show", spec.hostIf)) as {
      address: string;
      mtu: number;
      flags: string[];
      ifalias: string;
      linkinfo: { info_kind: string };
    }[];
    expect(host).toMatchObject({ address: "ee:ee:ee:ee:ee:ee", mtu: 1450, ifalias: `trellis:c-${tag}/eth0` });
    expect(host?.flags).toContain("UP");
    expect(host?.linkinfo.info_kind).toBe("veth");
    for (const [path, value] of planSysctls(spec.hostIf))
      expect([path, inNs(NODE, "cat", path)]).toEqual([path, value]);
    expect(ipn(NODE, "route", "show", "proto", "201")).toContain(`10.244.7.5 dev ${spec.hostIf} scope link`);
    expect(ipn(NODE, "-6", "route", "show", "proto", "201")).toContain(`fd00:244:7::5 dev ${spec.hostIf}`);
    const pod = ipn(PODS[0] ?? "", "addr", "show", "eth0");
    expect(pod).toContain("inet 10.244.7.5/32");
    expect(pod).toContain("inet6 fd00:244:7::5/128 scope global nodad");
    expect(pod).toContain(`link/ether ${spec.podMac}`);
    expect(ipn(PODS[0] ?? "", "route")).toContain("default via 169.254.1.1 dev eth0 onlink");
    expect(ipn(PODS[0] ?? "", "-6", "route")).toContain("default via fe80::ecee:eeff:feee:eeee dev eth0");
    // Two steps: the pair, then everything else in one pass (net/netlink chain()).
    expect(steps).toEqual(["createLink", "configure"]);
  });

  it("CHECK finds nothing wrong after ADD, and reports drift", async () => {
    expect(await dp.check(spec)).toEqual([]);
    ipn(PODS[0] ?? "", "link", "set", "eth0", "down");
    ipn(NODE, "route", "del", "10.244.7.5/32");
    // A link going down loses its IPv6 addresses and every route through it (keep_addr_on_down is 0).
    expect(await dp.check(spec)).toEqual([
      "interface eth0 is down",
      "address fd00:244:7::5/128 is missing on eth0",
      `host route 10.244.7.5/32 dev ${spec.hostIf} is missing`,
      "default route via 169.254.1.1 is missing in the pod",
      "default route via fe80::ecee:eeff:feee:eeee is missing in the pod",
    ]);
    expect(await dp.check({ ...spec, owner: { containerID: "other", ifname: "eth0" } })).toEqual([
      `host interface ${spec.hostIf} belongs to container c-${tag} (eth0), not to other`,
    ]);
  });

  it("a second ADD under the same host name is HostVethTaken with the owner the kernel records", async () => {
    const e = await dp.createLink({ ...spec, netns: `/var/run/netns/${PODS[1]}` }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HostVethTaken);
    expect((e as HostVethTaken).owner).toEqual(spec.owner);
    expect(await dp.readHostVeth(spec.hostIf)).toMatchObject({ exists: true, owner: spec.owner });
  });

  it("a pod that already has CNI_IFNAME is code 18 (attachment exists), and nothing is left behind", async () => {
    const e = await dp
      .createLink({ ...spec, hostIf: `trl${tag}1`.slice(0, 14) })
      .catch((x: unknown) => x as CniError);
    expect(e).toBeInstanceOf(CniError);
    expect((e as CniError).code).toBe(CniCode.AttachmentExists);
    expect(ipn(NODE, "link", "show")).not.toContain(`trl${tag}1`.slice(0, 14));
  });

  it("a namespace path that does not exist or is no namespace is code 4, naming it", async () => {
    for (const netns of [`/var/run/netns/${tag}none`, "/etc/hostname"]) {
      const e = await dp
        .createLink({ ...spec, hostIf: `trl${tag}2`.slice(0, 14), netns })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CniError);
      expect((e as CniError).code).toBe(CniCode.InvalidEnvironment);
      expect((e as CniError).message).toContain(`CNI_NETNS ${netns}`);
    }
  });

  it("lists its host veths, and DEL removes the pair and its routes, twice without error", async () => {
    expect(await dp.hostVeths()).toEqual([spec.hostIf]);
    await dp.del(spec.hostIf);
    await dp.del(spec.hostIf);
    expect(await dp.readHostVeth(spec.hostIf)).toEqual({ exists: false });
    expect(ipn(NODE, "-6", "route", "show", "proto", "201")).toBe("");
    expect(ipn(PODS[0] ?? "", "link", "show")).not.toContain("eth0");
  });

  it("detach (DEL's fast path): routes gone and the name free at once, the link deleted in the background", async () => {
    await dp.add(spec);
    const seen = await dp.readHostVeth(spec.hostIf);
    if (!seen.exists) throw new Error("ADD made no host veth");
    await dp.detach(spec.hostIf, seen.index);
    // Answered: the pinned name is free, no route points at the pod any more.
    expect(await dp.readHostVeth(spec.hostIf)).toEqual({ exists: false });
    expect(ipn(NODE, "route", "show", "10.244.7.5")).toBe("");
    expect(ipn(NODE, "-6", "route", "show", "fd00:244:7::5")).toBe("");
    // A new ADD of the same pod (same name, another sandbox) succeeds while the old link may still go.
    await dp.add({ ...spec, netns: `/var/run/netns/${PODS[1]}` });
    expect(ipn(NODE, "route", "show", "10.244.7.5")).toContain(`dev ${spec.hostIf}`);
    await dp.settled();
    expect(dp.detachedPending).toBe(0);
    expect(ipn(NODE, "link", "show")).not.toContain(DETACHED_VETH_PREFIX);
    expect(ipn(PODS[0] ?? "", "link", "show")).not.toContain("eth0");
    // DEL, then ADD in the same namespace: the old peer is still there until reaped; ADD waits for it.
    const again = await dp.readHostVeth(spec.hostIf);
    if (!again.exists) throw new Error("the second ADD made no host veth");
    await dp.detach(spec.hostIf, again.index);
    await dp.add({ ...spec, netns: `/var/run/netns/${PODS[1]}` });
    expect(ipn(PODS[1] ?? "", "addr", "show", "eth0")).toContain("inet 10.244.7.5/32");
    await dp.del(spec.hostIf);
    await dp.settled();
  });

  it("reapDetached deletes the detached host veths an earlier run left", async () => {
    ipn(NODE, "link", "add", `${DETACHED_VETH_PREFIX}0000left`, "type", "veth", "peer", "name", `${tag}p`);
    ipn(NODE, "link", "add", "trqother0", "type", "veth", "peer", "name", `${tag}q`);
    expect(await dp.reapDetached()).toBe(1);
    await dp.settled();
    const links = ipn(NODE, "link", "show");
    expect(links).not.toContain(`${DETACHED_VETH_PREFIX}0000left`);
    expect(links).toContain("trqother0");
    ipn(NODE, "link", "del", "trqother0");
  });

  it("keeps one blackhole per affine block and sweeps only its own", async () => {
    ipn(NODE, "route", "add", "blackhole", "10.9.0.0/24");
    await dp.syncBlackholes(["10.244.7.0/26", "fd00:244:7::/122"], true);
    await dp.syncBlackholes(["10.244.7.0/26"], true);
    // 201 prints as "trellis" where /etc/iproute2/rt_protos.d names it (net/route-ownership.ts).
    expect(ipn(NODE, "route", "show", "type", "blackhole")).toMatch(
      /^blackhole 10\.9\.0\.0\/24 \nblackhole 10\.244\.7\.0\/26 proto (201|trellis) metric 4096 \n$/,
    );
    expect(ipn(NODE, "-6", "route", "show", "type", "blackhole")).toBe("");
  });

  it("replaces an older agent's metric-0 blackhole with the metric-4096 one", async () => {
    ipn(NODE, "route", "add", "blackhole", "10.244.8.0/26", "proto", "201");
    await dp.syncBlackholes(["10.244.8.0/26"], true);
    expect(ipn(NODE, "route", "show", "10.244.8.0/26", "type", "blackhole")).toMatch(
      /^blackhole 10\.244\.8\.0\/26 proto (201|trellis) metric 4096 \n$/,
    );
    await dp.syncBlackholes([], true);
  });

  it("a block of one address (/32, /128): the pod's route wins while the pod lives, the blackhole after", async () => {
    // Two equal-metric routes to one destination would be one kernel route, the
    // last written winning: a pod blackholed by its own block (or the reverse).
    const one = { ...spec, addresses: ["10.244.9.1/32", "fd00:244:9::1/128"] };
    await dp.syncBlackholes(["10.244.9.1/32", "fd00:244:9::1/128"], true);
    await dp.add(one);
    await dp.syncBlackholes(["10.244.9.1/32", "fd00:244:9::1/128"], true);
    expect(ipn(NODE, "route", "get", "10.244.9.1")).toContain(`dev ${spec.hostIf}`);
    expect(ipn(NODE, "-6", "route", "get", "fd00:244:9::1")).toContain(`dev ${spec.hostIf}`);
    await dp.del(spec.hostIf);
    expect(() => ipn(NODE, "route", "get", "10.244.9.1")).toThrow(/Invalid argument|No route/);
    expect(ipn(NODE, "route", "show", "type", "blackhole", "10.244.9.1")).toContain("blackhole 10.244.9.1");
    await dp.syncBlackholes([], true);
  });
});
