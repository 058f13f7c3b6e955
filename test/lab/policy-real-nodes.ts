// The upstream NetworkPolicy conformance cases (test/conformance/policy/cases.ts
// networkPolicyCases, every one of them) as a describe block on a suite's
// `lab up --nodes 2 --cni trellis --kubelet real` lab (run by
// test/lab/real-nodes.test.ts on its lab: one lab up for both): the real
// kubelet and containerd start the pods, Trellis's CNI addresses them, the
// agents enforce the policies applied through the Kubernetes API. The pod set
// lives in its own namespaces x, y, z and every policy is namespaced there,
// so the suite's other pods (namespace default) neither see nor change a
// cell.
//
// As upstream's e2e (test/e2e/network/netpol) does, one pod set serves every
// case: namespaces x, y, z (labels ns=<name>, and the API server's own
// kubernetes.io/metadata.name) × pods a, b, c (label pod=<name>), alternating
// over node-1 and node-2, each from localhost/busybox:lab listening on TCP 80
// and 81 with busybox `httpd` (not `nc -ll`: its listen backlog of 1 drops
// the SYNs of eight probes at once, which then miss the 1 s timeout) and
// declaring serve-<port>-<tcp|udp> container ports (the named-port cases).
// Between cases the policies are deleted and labels put back; a case's
// labels and policies are applied as each step says.
//
// Probes: one `kubectl exec` per source pod and step runs every probe of the
// step at once (a sh loop of background jobs), printing "<target> <proto>
// <port> <0|1>". TCP: busybox `nc -w 1 IP PORT` connects or not. UDP: the
// pinned image's busybox (Debian's busybox-static 1.35) has no UDP listener
// (its nc has no -u), so a UDP port counts as reached when the datagram
// arrives at the target pod's kernel, which answers ICMP port unreachable
// (RFC 1122 §4.1.3.1, RFC 792): busybox `nslookup -port=PORT` reports
// "Connection refused" then, and only a timeout when the policy dropped the
// datagram. That reply is the datagram's conntrack RELATED ICMP error, which
// an allowed flow's path must pass (RFC 792's error to the source).
//
// Expected tables are the cases' own (reachability.ts mismatches). Policy is
// enforced asynchronously (API -> agent watch -> nftables), so a step is
// re-probed while it differs, at most PROBE_ATTEMPTS times, as upstream's
// ValidateOrFail probes a second time "in case policy enforcement was delayed";
// the last observation is asserted, every cell.
//
// Expected failures: none (EXPECTED_FAILURES below is empty; a case put there
// must name the product bug it shows).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { Doc } from "../../policy/test/fixtures.js";
import { networkPolicyCases, type Case, type IpModel, type Step } from "../conformance/policy/cases.js";
import { NAMESPACES, PODS, PORTS } from "../conformance/policy/netns-cluster.js";
import { ALL_PODS, mismatches } from "../conformance/policy/reachability.js";
import { lastObservation } from "../support/until.js";
import { kubectlApply, must } from "./lab-commands.js";
import { applyWhenAdmitted, podV4, runningPods } from "./lab-pods.js";
import { type SuiteLab } from "./suite-lab.js";

/** The nodes of the lab the block runs on (`lab up --nodes 2`). */
const NODES = ["node-1", "node-2"] as const;
/** The lab's pod CIDRs are 10.244.<node>.0/24 (lab/address-plan.ts): the ipBlock cases' 10.<net>.0.0/16. */
const POD_NET = 244;
/** Probe rounds per step before its last observation is asserted. */
const PROBE_ATTEMPTS = 5;
/**
 * Cases known to fail on real nodes because of a product bug, by name, with
 * the bug: asserted to still fail, so a fix shows up as a failure here to
 * move the case back. Empty: every case passes.
 */
const EXPECTED_FAILURES: ReadonlyMap<string, string> = new Map();

/** One pod of the x/y/z × a/b/c set, httpd on TCP 80 and 81 (names quoted: YAML 1.1 reads a bare y as true). */
function podYaml(ns: string, pod: string, node: string): string {
  const ports = PORTS.flatMap((port) =>
    (["TCP", "UDP"] as const).map(
      (proto) => `{name: serve-${port}-${proto.toLowerCase()}, containerPort: ${port}, protocol: ${proto}}`,
    ),
  );
  const listen = PORTS.map((p) => `httpd -f -p ${p} -h /var/www &`).join(" ");
  return `---
apiVersion: v1
kind: Pod
metadata: {name: "${pod}", namespace: "${ns}", labels: {pod: "${pod}"}}
spec:
  nodeName: ${node}
  terminationGracePeriodSeconds: 1
  automountServiceAccountToken: false
  containers:
  - name: c
    image: localhost/busybox:lab
    imagePullPolicy: Never
    command: [sh, -c, '${listen} wait']
    ports: [${ports.join(", ")}]
`;
}

/** A probe's line in the exec's output: "<ns/pod> <TCP|UDP> <port> <0|1>". */
function parseProbeLines(out: string): Map<string, boolean> {
  const m = new Map<string, boolean>();
  for (const line of out.split("\n")) {
    const f = line.trim().split(" ");
    if (f.length === 4 && (f[3] === "0" || f[3] === "1")) m.set(`${f[0]} ${f[1]} ${f[2]}`, f[3] === "1");
  }
  return m;
}

/**
 * The sh script one source pod runs: every (target, port, protocol) probe as
 * a background job, so a step costs about one timeout whatever its size.
 */
function probeScript(targets: { key: string; ip: string }[], probes: { port: number; protocol: string }[]) {
  const fn =
    "p() { if [ $3 = TCP ]; then if nc -w 1 $1 $2 </dev/null >/dev/null 2>&1; then r=1; else r=0; fi; " +
    "else if nslookup -port=$2 -timeout=1 -retry=1 probe. $1 2>&1 | grep -q 'Connection refused'; then r=1; else r=0; fi; fi; " +
    'echo "$4 $3 $2 $r"; }';
  const jobs = targets.flatMap((t) => probes.map((p) => `p ${t.ip} ${p.port} ${p.protocol} ${t.key} &`));
  return `${fn}\n${jobs.join("\n")}\nwait\n`;
}

/**
 * The conformance block on `lab`, a 2-node `--kubelet real` lab its suite
 * brought up: the pod set made before its first case, every case one test.
 */
export function describePolicyConformance(lab: SuiteLab): void {
  describe("NetworkPolicy conformance on real nodes: kubelet and containerd start the pods", () => {
    const stats = { cases: 0, steps: 0, cells: 0, probeRounds: 0, t0: Date.now() };
    const ips = new Map<string, string>();
    /** The node each pod runs on, as the API reports it. */
    const nodeOf = new Map<string, string>();
    const ipModel: IpModel = {
      net: POD_NET,
      ip: (k: string) => {
        const ip = ips.get(k);
        if (ip === undefined) throw new Error(`no address for pod ${k}`);
        return ip;
      },
    };
    /** Labels as last set, to change only what a step changes. */
    const nsLabels = new Map<string, Record<string, string>>();
    const podLabels = new Map<string, Record<string, string>>();
    /** "ns/name" of the NetworkPolicies in the API now. */
    let applied = new Set<string>();

    const setLabels = async (kind: "namespace" | "pod", key: string, want: Record<string, string>) => {
      const cur = (kind === "namespace" ? nsLabels : podLabels).get(key) ?? {};
      const args = [
        ...Object.keys(cur)
          .filter((k) => !(k in want))
          .map((k) => `${k}-`),
        ...Object.entries(want)
          .filter(([k, v]) => cur[k] !== v)
          .map(([k, v]) => `${k}=${v}`),
      ];
      if (args.length > 0) {
        const [ns, pod] = key.split("/") as [string, string];
        const target = kind === "namespace" ? [kind, ns] : ["-n", ns, kind, pod];
        await must(`kubectl label ${key}`, lab.kubectl("label", "--overwrite", ...target, ...args));
      }
      (kind === "namespace" ? nsLabels : podLabels).set(key, want);
    };

    /** The step's labels (the pod set's own where it names none) and exactly its policies. */
    const applyStep = async (s: Step) => {
      for (const ns of NAMESPACES)
        await setLabels("namespace", ns, {
          ...(s.nsLabels?.[ns] ?? { ns }),
          // Set by the API server on every namespace (NamespaceDefaultLabelName); not removable.
          "kubernetes.io/metadata.name": ns,
        });
      for (const k of ALL_PODS)
        await setLabels("pod", k, s.podLabels?.[k] ?? { pod: k.split("/")[1] as string });
      await applyPolicies(s.policies);
    };

    const applyPolicies = async (policies: readonly Doc[]) => {
      const key = (d: Doc) => {
        const m = d.metadata as { name: string; namespace: string };
        return `${m.namespace}/${m.name}`;
      };
      const want = new Set(policies.map(key));
      for (const k of applied) {
        if (want.has(k)) continue;
        const [ns, name] = k.split("/") as [string, string];
        await must(
          `kubectl delete networkpolicy ${k}`,
          lab.kubectl("delete", "-n", ns, "networkpolicy", name, "--wait=true"),
        );
      }
      if (policies.length > 0)
        await must(
          "kubectl apply of the policies",
          kubectlApply(lab.dir, JSON.stringify({ apiVersion: "v1", kind: "List", items: policies })),
        );
      applied = want;
    };

    /**
     * Every probe of a step from every pod to every other pod: "from->to" per
     * "proto port", and the execs that failed. A failed `kubectl exec` (the
     * kubelet's stream dropped under load) is part of the observation, not a
     * thrown error: its cells stay unobserved, and the round is probed again.
     */
    const probeStep = async (
      s: Step,
    ): Promise<{ byProbe: Map<string, Map<string, boolean>>; execFailures: string[] }> => {
      const probes = s.probes.map((p) => ({ port: p.port, protocol: p.protocol }));
      const byProbe = new Map<string, Map<string, boolean>>(
        probes.map((p) => [`${p.protocol} ${p.port}`, new Map()]),
      );
      const execFailures: string[] = [];
      await Promise.all(
        ALL_PODS.map(async (from) => {
          const [ns, pod] = from.split("/") as [string, string];
          const targets = ALL_PODS.filter((t) => t !== from).map((t) => ({ key: t, ip: ipModel.ip(t) }));
          const r = await lab.kubectl("exec", "-n", ns, pod, "--", "sh", "-c", probeScript(targets, probes));
          if (r.code !== 0) {
            execFailures.push(`kubectl exec ${from} exited ${r.code}: ${r.err.trim()}`);
            return;
          }
          for (const [k, v] of parseProbeLines(r.out)) {
            const [to, proto, port] = k.split(" ") as [string, string, string];
            byProbe.get(`${proto} ${port}`)?.set(`${from}->${to}`, v);
          }
        }),
      );
      return { byProbe, execFailures };
    };

    /** The case's mismatches, every step; each step re-probed while it differs (bounded). */
    const runCase = async (k: Case): Promise<string[]> => {
      const errors: string[] = [];
      for (const [i, s] of k.steps.entries()) {
        await applyStep(s);
        const last = await lastObservation(
          async () => {
            const { byProbe, execFailures } = await probeStep(s);
            return [
              ...execFailures.map((f) => `step ${i} ${f}`),
              ...s.probes.flatMap((p) =>
                mismatches(
                  p.expect,
                  byProbe.get(`${p.protocol} ${p.port}`) ?? new Map(),
                  `step ${i} ${p.protocol}/${p.port}`,
                ),
              ),
            ];
          },
          (errs) => errs.length === 0,
          PROBE_ATTEMPTS,
          1000,
        );
        stats.probeRounds += last.rounds;
        stats.steps++;
        stats.cells += s.probes.reduce((n, p) => n + p.expect.entries().length, 0);
        errors.push(...last.value);
      }
      return errors;
    };

    beforeAll(async () => {
      const t0 = Date.now();
      for (const ns of NAMESPACES) {
        await must(`kubectl create namespace ${ns}`, lab.kubectl("create", "namespace", ns));
        await setLabels("namespace", ns, { ns, "kubernetes.io/metadata.name": ns });
      }
      await applyWhenAdmitted(
        lab.dir,
        ALL_PODS.map((k, i) => {
          const [ns, pod] = k.split("/") as [string, string];
          return podYaml(ns, pod, NODES[i % NODES.length] as string);
        }).join(""),
      );
      for (const k of ALL_PODS) podLabels.set(k, { pod: k.split("/")[1] as string });
      // Every pod of the set, and only those, carries the label key `pod`.
      for (const p of await runningPods(
        lab.dir,
        NAMESPACES.length * PODS.length,
        ["-A", "-l", "pod"],
        300_000,
      )) {
        const k = `${p.metadata.namespace}/${p.metadata.name}`;
        ips.set(k, podV4(p));
        nodeOf.set(k, p.spec.nodeName ?? "");
      }
      console.log(`the 9 pods Running: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      stats.t0 = Date.now();
    }, 5 * 60_000);

    afterAll(() =>
      console.log(
        `policy conformance on real nodes: ${stats.cases} cases, ${stats.cells} cells asserted, ` +
          `${stats.steps} steps, ${stats.probeRounds} probe rounds (one exec per pod each), ${((Date.now() - stats.t0) / 1000).toFixed(1)} s`,
      ),
    );

    it("the pod set: 9 pods from localhost/busybox:lab, alternating over both nodes, in 10.244.0.0/16", () => {
      expect([...ips.keys()].sort()).toEqual([...ALL_PODS].sort());
      for (const [k, ip] of ips)
        expect({ k, inNet: ip.startsWith(`10.${POD_NET}.`) }).toEqual({ k, inNet: true });
      expect(ALL_PODS.map((k) => nodeOf.get(k))).toEqual(ALL_PODS.map((_, i) => NODES[i % NODES.length]));
    });

    // The ipBlock cases name pod addresses, known once the pods run: the
    // cases are built again from the real addresses when each runs.
    const names = networkPolicyCases({ net: POD_NET, ip: () => "0.0.0.0" }).map((k) => k.name);
    for (const name of names) {
      it(
        name,
        async () => {
          const k = networkPolicyCases(ipModel).find((c) => c.name === name);
          if (k === undefined) throw new Error(`no case ${name}`);
          const errors = await runCase(k);
          stats.cases++;
          const bug = EXPECTED_FAILURES.get(name);
          if (bug === undefined) expect(errors).toEqual([]);
          else expect({ bug, fails: errors.length > 0 }).toEqual({ bug, fails: true });
        },
        120_000,
      );
    }
  });
}
