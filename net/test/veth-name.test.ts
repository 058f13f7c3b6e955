import { describe, it, expect } from "@jest/globals";
import { createHash } from "node:crypto";
import { HOST_VETH_PREFIX, hostVethName, podVethName } from "../veth-name.js";

const sha = (s: string): string => createHash("sha1").update(s).digest("hex");

describe("host veth name (docs/architecture.md pinned contract)", () => {
  it("a pod: trl + 11 hex of sha1(<namespace>.<podName>)", () => {
    expect(hostVethName({ namespace: "demo", pod: "web-1" })).toBe(`trl${sha("demo.web-1").slice(0, 11)}`);
    expect(podVethName("demo", "web-1")).toBe(hostVethName({ namespace: "demo", pod: "web-1" }));
  });
  it("without Kubernetes args: sha1(<containerID>.<ifname>)", () => {
    expect(hostVethName({ containerID: "abc", ifname: "eth0" })).toBe(`trl${sha("abc.eth0").slice(0, 11)}`);
  });
  it("is 14 characters, under IFNAMSIZ (16)", () => {
    expect(hostVethName({ namespace: "a", pod: "b" })).toHaveLength(14);
    expect(HOST_VETH_PREFIX).toBe("trl");
  });
});
