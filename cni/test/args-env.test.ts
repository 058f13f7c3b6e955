// CNI_ARGS (libcni LoadArgs semantics) and CNI_* environment rules per command.
import { describe, expect, it } from "@jest/globals";
import { parseCniArgs } from "../args.js";
import { parseCniEnv } from "../env.js";
import { CniError } from "../error.js";
import { highestSupported } from "../versions.js";

function code(f: () => unknown): number | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof CniError ? e.code : -1;
  }
}

describe("CNI_ARGS", () => {
  it("empty or absent gives no pairs", () => {
    expect(parseCniArgs(undefined)).toEqual({ k8s: {}, pairs: {} });
    expect(parseCniArgs("")).toEqual({ k8s: {}, pairs: {} });
  });
  it("the Kubernetes keys map onto k8s", () => {
    const a = parseCniArgs(
      "K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=dns-1;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u1",
    );
    expect(a.k8s).toEqual({
      podNamespace: "kube-system",
      podName: "dns-1",
      podInfraContainerId: "abc",
      podUid: "u1",
    });
  });
  it.each(["1", "true", "TRUE", "True"])("IgnoreUnknown=%s ignores unknown keys", (v) => {
    expect(parseCniArgs(`IgnoreUnknown=${v};X=1`).pairs.X).toBe("1");
  });
  it.each(["0", "false"])("IgnoreUnknown=%s keeps unknown keys an error", (v) => {
    expect(code(() => parseCniArgs(`IgnoreUnknown=${v};X=1`))).toBe(4);
  });
  it("a value may contain '=' (split at the first)", () => {
    expect(parseCniArgs("IgnoreUnknown=1;A=b=c").pairs.A).toBe("b=c");
  });
  it("an empty key is an invalid pair", () => {
    expect(code(() => parseCniArgs("=x"))).toBe(4);
  });
});

describe("CNI_* environment", () => {
  const base = {
    CNI_CONTAINERID: "c1",
    CNI_NETNS: "/run/netns/x",
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
  };
  it("splits CNI_PATH on ':'", () => {
    expect(parseCniEnv({ ...base, CNI_COMMAND: "ADD" }).path).toEqual(["/opt/cni/bin", "/usr/lib/cni"]);
  });
  it.each([
    ["ADD", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]],
    ["CHECK", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]],
    ["DEL", ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"]],
    ["GC", []],
    ["STATUS", []],
    ["VERSION", []],
  ] as const)("%s requires exactly %j", (cmd, required) => {
    for (const name of Object.keys(base)) {
      const env: Record<string, string> = { ...base, CNI_COMMAND: cmd };
      delete env[name];
      const c = code(() => parseCniEnv(env));
      expect([name, c]).toEqual([name, (required as readonly string[]).includes(name) ? 4 : undefined]);
    }
  });
  // SPEC.md "VERSION": only CNI_COMMAND is required; libcni probes with
  // CNI_NETNS=dummy and no container, so nothing else is judged.
  it.each([
    ["CNI_NETNS", "dummy"],
    ["CNI_CONTAINERID", "!not an id"],
    ["CNI_IFNAME", "longer-than-15-chars"],
  ])("VERSION does not validate %s (%s)", (name, value) => {
    expect(code(() => parseCniEnv({ CNI_COMMAND: "VERSION", [name]: value }))).toBeUndefined();
  });
  it.each([
    ["CNI_NETNS", "dummy"],
    ["CNI_CONTAINERID", "!not an id"],
    ["CNI_IFNAME", "longer-than-15-chars"],
  ])("ADD still rejects an invalid %s (%s) with code 4", (name, value) => {
    expect(code(() => parseCniEnv({ ...base, CNI_COMMAND: "ADD", [name]: value }))).toBe(4);
  });
});

describe("highestSupported", () => {
  it("picks the highest listed version we speak", () => {
    expect(highestSupported(["0.3.1", "1.0.0", "1.1.0", "1.2.0", "junk"])).toBe("1.1.0");
    expect(highestSupported(["0.2.0"])).toBeUndefined();
  });
});
