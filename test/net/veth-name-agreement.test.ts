// Until agent/dataplane/veth-name.ts re-exports net/veth-name.ts (it is being
// edited on another branch), the two must name every veth alike: the policy
// compiler (net/) and the dataplane that creates the link must agree.
import { describe, it, expect } from "@jest/globals";
import { hostVethName as dataplaneVeth } from "../../agent/dataplane/veth-name.js";
import { hostVethName } from "../../net/veth-name.js";

describe("net/veth-name agrees with agent/dataplane/veth-name", () => {
  const pods: [string, string][] = [
    ["default", "web-0"],
    ["kube-system", "coredns-5d78c9869d-abcde"],
    ["a", "b"],
  ];
  it.each(pods)("pod %s/%s", (namespace, pod) => {
    expect(hostVethName({ namespace, pod })).toBe(dataplaneVeth({ namespace, pod }, "cid", "eth0"));
  });
  it("an attachment without Kubernetes args", () => {
    expect(hostVethName({ containerID: "0123abcd", ifname: "net1" })).toBe(
      dataplaneVeth(undefined, "0123abcd", "net1"),
    );
  });
});
