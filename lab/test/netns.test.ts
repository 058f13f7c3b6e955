// lab/netns.ts on net/netns-path.ts: one meaning of a namespace name or path, the lab's
// commands entered with nsenter and `--`, and the mistakes it refuses (pure: nothing is run).
import { describe, expect, it } from "@jest/globals";
import { argvInNetns, commandInNetns, namedNetnsPath } from "../netns.js";

describe("commandInNetns: argv entered into a namespace, as (program, arguments)", () => {
  it.each([
    ["a name is under /var/run/netns", "tl-n1", "--net=/var/run/netns/tl-n1"],
    [
      "a path (a real node's containerd namespace) is taken as it is",
      "/lab/nodes/node-1/containerd/state/netns/cni-1",
      "--net=/lab/nodes/node-1/containerd/state/netns/cni-1",
    ],
  ])("%s", (_what, ns, net) => {
    expect(commandInNetns(ns, ["nft", "list", "tables"])).toEqual([
      "nsenter",
      [net, "--", "nft", "list", "tables"],
    ]);
  });

  it("an argv that starts with a dash stays the program's, not nsenter's (`--`)", () => {
    expect(commandInNetns("tl-n1", ["-x"])[1]).toEqual(["--net=/var/run/netns/tl-n1", "--", "-x"]);
  });

  it("no namespace is an error, never a command run in our own (daemons' argv too)", () => {
    expect(() => commandInNetns("", ["nft", "list", "tables"])).toThrow(
      'no network namespace given to run "nft list tables" in',
    );
    expect(() => argvInNetns("", ["bird", "-f"])).toThrow('no network namespace given to run "bird -f" in');
    expect(argvInNetns("tl-n1", ["bird", "-f"])).toEqual([
      "nsenter",
      "--net=/var/run/netns/tl-n1",
      "--",
      "bird",
      "-f",
    ]);
  });
});

describe("namedNetnsPath: where `ip netns add NAME` puts a lab namespace", () => {
  it("a name is under /var/run/netns", () => {
    expect(namedNetnsPath("tl1234-p-abc")).toBe("/var/run/netns/tl1234-p-abc");
  });

  it.each(["", "/var/run/netns/x", "a/b"])("%j is no name", (bad) => {
    expect(() => namedNetnsPath(bad)).toThrow(`"${bad}" is not a network namespace name`);
  });
});
