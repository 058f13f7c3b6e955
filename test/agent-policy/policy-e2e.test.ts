/**
 * trellis-node enforcing policy, end to end: a real agent process in a node
 * namespace against the real lab API server, pods added through the real
 * shim, a NetworkPolicy created with client-node, and real TCP connections
 * between pod namespaces through the node's real nftables.
 * Names carry "tQ" + this file's token; everything is removed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { hostVethName } from "../../net/veth-name.js";
import { NetworkingV1Api } from "@kubernetes/client-node";
import { type AgentProc, TestBed, cniShim, k8sArgs, podCall, sh } from "../agent/harness.js";

/** The agent harness with this helper's namespace prefix. */
class PolicyBed extends TestBed {
  override netnsName(suffix: string): string {
    return `tQ${this.token}${suffix}`;
  }
}

const NODE = "node-1";
const ADMIN_POLICY_PLURALS = [
  "adminnetworkpolicies",
  "baselineadminnetworkpolicies",
  "clusternetworkpolicies",
];
const bed = new PolicyBed("pe");
let agent: AgentProc;
let nodeNetns = "";
const listeners: ChildProcess[] = [];
const pods = new Map<string, { netns: string; ip4: string; ip6?: string }>();

beforeAll(async () => {
  await bed.startApi();
  await bed.createPool("pool-v4", { cidr: "10.71.0.0/16", blockSize: 26 });
  await bed.createPool("pool-v6", { cidr: "fd00:71::/64", blockSize: 122 });
  for (const name of ["web", "locked"]) {
    await bed.core.createNamespace({ body: { metadata: { name, labels: { team: name } } } });
  }
  // The admin policy kinds stay unserved here (a test below is about that): the real control
  // plane installs their CRDs from crds/upstream, the embedded one does not.
  await bed.removeCrds(ADMIN_POLICY_PLURALS.map((p) => `${p}.policy.networking.k8s.io`));
  const n = await bed.addNode();
  nodeNetns = n.netns;
  agent = await bed.startAgent(NODE, n.netns, { policy: { minApplyIntervalMs: 50 } }, { logLevel: "info" });
}, 120_000);

afterAll(async () => {
  for (const l of listeners) if (l.exitCode === null) l.kill("SIGKILL");
  await bed.cleanup();
}, 60_000);

const net = (): NetworkingV1Api => bed.kc.makeApiClient(NetworkingV1Api);

/** A TCP listener on :8080 in the pod's namespace that answers with the pod's name. */
function listen(netns: string, name: string): void {
  for (const l of ["TCP4-LISTEN:8080,reuseaddr,fork", "TCP6-LISTEN:8080,ipv6only=1,reuseaddr,fork"]) {
    const p = spawn("nsenter", [`--net=/var/run/netns/${netns}`, "socat", l, `SYSTEM:echo ${name}`], {
      stdio: "ignore",
    });
    listeners.push(p);
  }
}

/** Creates the Pod object, its namespace with a listener, and runs ADD through the real shim. */
async function addPod(namespace: string, name: string): Promise<{ netns: string; ip4: string }> {
  await bed.core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, namespace, labels: { app: name } },
      spec: {
        nodeName: NODE,
        containers: [{ name: "c", image: "busybox", ports: [{ containerPort: 8080 }] }],
      },
    },
  });
  const netns = bed.netnsName(`p${pods.size + 1}`);
  await bed.addNetns([netns]);
  await sh("ip", ["-n", netns, "link", "set", "lo", "up"]);
  listen(netns, name);
  const r = await cniShim(
    podCall("ADD", agent, `c0ffee${pods.size}${name}`, netns, k8sArgs(namespace, name)),
  );
  if (r.exitCode !== 0) throw new Error(`ADD ${namespace}/${name}: ${JSON.stringify(r.json)}`);
  const ips = (r.json["ips"] as { address: string }[]).map((i) => i.address.split("/")[0] ?? "");
  const ip4 = ips.find((i) => !i.includes(":")) ?? "";
  const ip6 = ips.find((i) => i.includes(":"));
  pods.set(`${namespace}/${name}`, { netns, ip4, ...(ip6 !== undefined ? { ip6 } : {}) });
  return { netns, ip4 };
}

/** One real TCP connection from one pod to another's :8080; true when the answer came back. */
async function reaches(from: string, to: string, family: 4 | 6 = 4): Promise<boolean> {
  const a = pods.get(from);
  const b = pods.get(to);
  if (!a || !b) throw new Error(`unknown pod ${from} or ${to}`);
  const target = family === 4 ? `TCP4:${b.ip4}:8080` : `TCP6:[${b.ip6}]:8080`;
  try {
    const out = await sh("nsenter", [
      `--net=/var/run/netns/${a.netns}`,
      "socat",
      "-T2",
      "-",
      `${target},connect-timeout=1`,
    ]);
    return out.trim() === to.split("/")[1];
  } catch {
    return false;
  }
}

async function eventually(what: string, f: () => Promise<boolean>, ms = 10_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await f()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function metric(name: string): Promise<number> {
  const m = await bed.httpInNode(nodeNetns, agent.metricsPort, "/metrics");
  let total = 0;
  for (const line of m.body.split("\n")) {
    if (line.startsWith(name) && [" ", "{", ","].includes(line[name.length] ?? ""))
      total += Number(line.split(" ").pop());
  }
  return total;
}

describe("trellis-node enforces NetworkPolicy", () => {
  it("is ready only after its first apply; the table is in the node namespace and metrics say so", async () => {
    // The CNI side answers STATUS once IPAM is in sync; /readyz waits for the first table.
    await eventually(
      "/readyz",
      async () => (await bed.httpInNode(nodeNetns, agent.metricsPort, "/readyz")).status === 200,
    );
    expect(await metric("trellis_policy_ready")).toBe(1);
    expect(await metric('trellis_policy_applies_total{result="ok"')).toBeGreaterThanOrEqual(1);
    expect(await metric("trellis_policy_apply_seconds_count")).toBeGreaterThanOrEqual(1);
    const table = await sh("ip", ["netns", "exec", nodeNetns, "nft", "list", "table", "inet", "trellis"]);
    expect(table).toContain("chain from-pods");
  });

  it("admin policy kinds whose CRDs are not installed count as empty, logged once, never an informer failure", async () => {
    const log = readFileSync(agent.logFile, "utf8");
    for (const plural of ADMIN_POLICY_PLURALS) {
      const absent = log
        .split("\n")
        .filter((l) => l.includes(`"informer":"${plural}"`) && l.includes("kind not served"));
      expect(absent).toHaveLength(1);
    }
    expect(log).not.toMatch(
      /"informer":"(adminnetworkpolicies|tenants|networkpolicies)"[^\n]*informer failed/,
    );
  });

  it("a NetworkPolicy denying ingress to a pod stops a real connection; deleting it restores it", async () => {
    await addPod("web", "a");
    await addPod("web", "b");
    expect(await reaches("web/a", "web/b")).toBe(true);
    expect(await reaches("web/b", "web/a")).toBe(true);
    await net().createNamespacedNetworkPolicy({
      namespace: "web",
      body: {
        metadata: { name: "deny-b", namespace: "web" },
        spec: { podSelector: { matchLabels: { app: "b" } }, policyTypes: ["Ingress"] },
      },
    });
    await eventually("a stops reaching b", async () => !(await reaches("web/a", "web/b")), 8000);
    // Both families: the pods are dual-stack and the policy is not per family.
    expect(await reaches("web/a", "web/b", 6)).toBe(false);
    // Only b's ingress is denied: b still reaches a.
    expect(await reaches("web/b", "web/a")).toBe(true);
    expect(await reaches("web/b", "web/a", 6)).toBe(true);
    expect(await metric("trellis_policy_last_transaction_commands")).toBeGreaterThan(0);
    await net().deleteNamespacedNetworkPolicy({ namespace: "web", name: "deny-b" });
    await eventually("a reaches b again", () => reaches("web/a", "web/b"), 8000);
    expect(await reaches("web/a", "web/b", 6)).toBe(true);
  }, 60_000);

  it("a pod added while a deny-all selects its namespace is isolated from its first packet", async () => {
    const applied = await metric('trellis_policy_applies_total{result="ok"');
    await net().createNamespacedNetworkPolicy({
      namespace: "locked",
      body: {
        metadata: { name: "deny-all", namespace: "locked" },
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
      },
    });
    await eventually(
      "the deny-all applied",
      async () => (await metric('trellis_policy_applies_total{result="ok"')) > applied,
    );
    await addPod("locked", "c");
    // Probe at once after ADD returned: no window in which c is open.
    expect(await reaches("web/a", "locked/c")).toBe(false);
    expect(await reaches("locked/c", "web/a")).toBe(false);
    expect(await reaches("web/a", "locked/c", 6)).toBe(false);
    // The control: a pod in a namespace with no policy is reachable at once,
    // so its veth and address were in the table before its ADD returned
    // (an unknown trl* veth would be dropped too).
    await addPod("web", "d");
    expect(await reaches("web/a", "web/d")).toBe(true);
    expect(await reaches("web/d", "web/a")).toBe(true);
    expect(await reaches("web/a", "web/d", 6)).toBe(true);
  }, 60_000);

  it("dual-stack pods get both families from the pools", () => {
    const d = pods.get("web/d");
    expect(d?.ip4).toMatch(/^10\.71\./);
    expect(d?.ip6).toMatch(/^fd00:71:/);
  });
});

describe("an ADD whose rules cannot be applied in time", () => {
  // Fault injection on the real nft: the agent applies through one
  // long-lived `nft -j -i` in its node namespace; freezing that process with
  // SIGSTOP is a kernel/nft that stops answering. Everything else is as in
  // production.
  let slow: AgentProc;
  let slowNetns = "";

  /** The nft processes running in the node namespace (the agent's session). */
  async function nftPids(): Promise<number[]> {
    const out = await sh("ip", ["netns", "pids", slowNetns]);
    return out
      .split(/\s+/)
      .filter((p) => p !== "")
      .map(Number)
      .filter((pid) => {
        try {
          // The policy driver's persistent session (`nft -j -i`), not a one-shot nft (natOutgoing's).
          const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
          return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "nft" && argv.includes("-i");
        } catch {
          return false;
        }
      });
  }

  beforeAll(async () => {
    const n = await bed.addNode();
    slowNetns = n.netns;
    // Every transaction through the nft session, which the test freezes: element-only ones
    // would otherwise go by netlink and never meet the frozen process.
    slow = await bed.startAgent(
      "node-2",
      n.netns,
      { policy: { addTimeoutMs: 1000, elementsByNetlink: false } },
      { logLevel: "info" },
    );
  }, 60_000);

  it("fails with code 11 and leaves no address and no veth behind", async () => {
    await bed.core.createNamespacedPod({
      namespace: "web",
      body: {
        metadata: { name: "stuck", namespace: "web", labels: { app: "stuck" } },
        spec: { nodeName: "node-2", containers: [{ name: "c", image: "busybox" }] },
      },
    });
    const netns = bed.netnsName("ps");
    await bed.addNetns([netns]);
    // The session starts with the agent's first policy apply, which may
    // follow its readiness by a moment.
    let frozen: number[] = [];
    for (let i = 0; i < 100 && frozen.length === 0; i++) {
      frozen = await nftPids();
      if (frozen.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(frozen.length).toBeGreaterThan(0);
    for (const pid of frozen) process.kill(pid, "SIGSTOP");
    const id = "c0ffeestuck";
    let r;
    try {
      r = await cniShim(podCall("ADD", slow, id, netns, k8sArgs("web", "stuck")));
    } finally {
      for (const pid of frozen) process.kill(pid, "SIGCONT");
    }
    expect(r.exitCode).not.toBe(0);
    expect(r.json).toMatchObject({ code: 11 });
    expect(String(r.json["msg"])).toMatch(/policy/);
    const hostIf = hostVethName({ namespace: "web", pod: "stuck" });
    await expect(sh("ip", ["-n", slowNetns, "link", "show", hostIf])).rejects.toThrow();
    expect(await sh("ip", ["-n", netns, "link", "show"])).not.toContain("eth0");
    const held = [...(await bed.allocations()).values()].filter((a) => a.handle.startsWith(id));
    expect(held).toEqual([]);
    // Once nft answers again, the same ADD succeeds.
    const again = await cniShim(podCall("ADD", slow, id, netns, k8sArgs("web", "stuck")));
    expect(again.exitCode).toBe(0);
  }, 60_000);
});
