import { describe, expect, it } from "@jest/globals";
import {
  planHostRoutes,
  planLink,
  planPod,
  planSysctls,
  podIpArgs,
  podMac,
  podRoutes,
} from "../routed-veth.js";
import { hostSettings } from "../routed-veth-netlink.js";
import { IPV4_DEVCONF_PROXY_ARP, IPV4_DEVCONF_RP_FILTER } from "../../../net/netlink/rtnetlink.js";

const spec = {
  hostIf: "trl0123456789a",
  podIf: "eth0",
  netns: "/var/run/netns/pod1",
  mtu: 1450,
  podMac: "0a:58:01:02:03:04",
  addresses: ["10.244.0.5/32", "fd00::5/128"],
};

describe("routed veth plans", () => {
  it("creates the pair with the peer directly in the pod namespace, host end up, fixed host MAC, MTU", () => {
    expect(planLink(spec)).toEqual([
      "link add trl0123456789a mtu 1450 address ee:ee:ee:ee:ee:ee up type veth peer name eth0 mtu 1450 address 0a:58:01:02:03:04 netns /var/run/netns/pod1",
    ]);
  });

  it("routes each pod address to the veth as /32 and /128 with proto 201", () => {
    expect(planHostRoutes("trlx", ["10.244.0.5/26", "fd00::5/64"])).toEqual([
      "route replace 10.244.0.5/32 dev trlx proto 201 scope link",
      "route replace fd00::5/128 dev trlx proto 201",
    ]);
  });

  it("gives the pod /32 and /128 (no DAD) and default routes via 169.254.1.1 and the host link-local", () => {
    expect(planPod(spec)).toEqual([
      "addr add 10.244.0.5/32 dev eth0",
      "addr add fd00::5/128 dev eth0 nodad",
      "link set eth0 up",
      "route add default via 169.254.1.1 dev eth0 onlink",
      "route add ::/0 via fe80::ecee:eeff:feee:eeee dev eth0",
    ]);
    expect(podRoutes(spec.addresses)).toEqual([
      { dst: "0.0.0.0/0", gw: "169.254.1.1" },
      { dst: "::/0", gw: "fe80::ecee:eeff:feee:eeee" },
    ]);
  });

  it("sets proxy ARP without delay, no DAD, no RA on the host end", () => {
    expect(Object.fromEntries(planSysctls("trlx"))).toEqual({
      "/proc/sys/net/ipv4/conf/trlx/proxy_arp": "1",
      "/proc/sys/net/ipv4/neigh/trlx/proxy_delay": "0",
      "/proc/sys/net/ipv4/conf/trlx/rp_filter": "0",
      "/proc/sys/net/ipv6/conf/trlx/accept_dad": "0",
      "/proc/sys/net/ipv6/conf/trlx/accept_ra": "0",
    });
  });

  it.each([
    ["/var/run/netns/cni-1234", { file: "ip", args: ["-n", "cni-1234"] }],
    ["/run/netns/p", { file: "ip", args: ["-n", "p"] }],
    ["/proc/42/ns/net", { file: "nsenter", args: ["--net=/proc/42/ns/net", "ip"] }],
  ])("enters %s the cheapest way", (netns, want) => {
    expect(podIpArgs(netns)).toEqual(want);
  });

  it("derives a stable locally administered unicast MAC", () => {
    const m = podMac("c1.eth0");
    expect(m).toMatch(/^0a:58(:[0-9a-f]{2}){4}$/);
    expect(podMac("c1.eth0")).toBe(m);
  });
});

describe("hostSettings: each host sysctl by its cheapest way", () => {
  it("sends proxy_arp and rp_filter as IFLA_INET_CONF, proxy_delay 0 by the ARP table, the IPv6 ones to /proc", () => {
    expect(hostSettings("trl0123456789a")).toEqual({
      inetConf: [
        [IPV4_DEVCONF_PROXY_ARP, 1],
        [IPV4_DEVCONF_RP_FILTER, 0],
      ],
      proxyDelayMs: 0,
      proc: [
        ["/proc/sys/net/ipv6/conf/trl0123456789a/accept_dad", "0"],
        ["/proc/sys/net/ipv6/conf/trl0123456789a/accept_ra", "0"],
      ],
    });
  });
});
