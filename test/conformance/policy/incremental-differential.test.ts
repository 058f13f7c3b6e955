/**
 * The incremental compiler against the full one (the oracle): seeded random
 * sequences of pod, namespace, policy (and now and then tenant and node)
 * events on a generated cluster; after EVERY step the incremental state's
 * table must equal a full compile of the same inputs, and the kernel (the
 * FakeNft) fed only the step's delta commands must hold that same table,
 * and the addresses whose established flows the agent re-checks after the
 * step (agent/policy/revocation.ts) must be the same whether it read them
 * from the step's delta commands or from the driver's full diff.
 * Bounded: TRELLIS_INC_SEEDS seeds (default 30) of TRELLIS_INC_STEPS steps
 * (default 40). A failing seed and step are printed and can be replayed.
 */
import { describe, it, expect } from "@jest/globals";
import {
  buildClusterFromObjects,
  parseObject,
  PolicyInputError,
  type ParsedObject,
} from "../../../policy/model/load.js";
import { compile } from "../../../policy/compiler/compile.js";
import {
  fullTransaction,
  nftDocument,
  POLICY_TABLE,
  type NftTable,
} from "../../../policy/compiler/nft-table.js";
import {
  deltaCommands,
  initialState,
  materialize,
  updateObject,
  type CompilerState,
} from "../../../policy/compiler/incremental.js";
import { FakeNft } from "../../../agent/nft/fake-nft.js";
import { diffTable } from "../../../agent/nft/diff.js";
import { localPodsOfState, revocationFor } from "../../../agent/policy/revocation.js";
import { observe, parseListing, type ObservedTable } from "../../../agent/nft/kernel-state.js";
import { namespace, node, pod, tenant, type Doc } from "../../../policy/test/fixtures.js";
import { rng } from "../../support/rng.js";
import { generate } from "./generator.js";

const SEEDS = Number(process.env["TRELLIS_INC_SEEDS"] ?? 30);
const STEPS = Number(process.env["TRELLIS_INC_STEPS"] ?? 40);
const NODE = "n1";
const NET = 9;

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

const ipOf = (k: string) => `10.${NET}.${k.charCodeAt(0) % 3}.${(k.charCodeAt(k.length - 1) % 6) + 1}`;
const ip6Of = (k: string) => `fd00:${NET}:${k.charCodeAt(0) % 3}::${(k.charCodeAt(k.length - 1) % 6) + 1}`;

function randomPod(r: Rand, name: string): Doc {
  const ns = pick(r, ["x", "y", "z", "w"]);
  // Neighbouring addresses, so merged ranges grow, split and join.
  const host = 1 + Math.floor(r() * 12);
  const sub = Math.floor(r() * 3);
  const v4 = `10.${NET}.${sub}.${host}`;
  const dual = r() < 0.3;
  return pod(
    ns,
    name,
    { pod: pick(r, ["a", "b", "c"]), ...(r() < 0.3 ? { team: pick(r, ["red", "blue"]) } : {}) },
    {
      node: pick(r, [NODE, NODE, "n2"]),
      ...(dual ? { ips: [v4, `fd00:${NET}:${sub}::${host}`] } : { ip: v4 }),
      ...(r() < 0.1 ? { hostNetwork: true } : {}),
      ports:
        r() < 0.6
          ? [{ name: "serve-80-tcp", containerPort: 80 }]
          : [{ name: "serve-81-udp", containerPort: 81, protocol: "UDP" }],
    },
  );
}

function randomNamespace(r: Rand, name: string): Doc {
  return namespace(name, {
    ns: pick(r, ["x", "y", "z", name]),
    ...(r() < 0.5 ? { team: pick(r, ["red", "blue"]) } : {}),
  });
}

/** Policies (and the odd tenant) from the conformance generator, renamed so several coexist. */
function randomPolicies(seed: number, tag: string): Doc[] {
  return generate(seed, NET, ipOf, ip6Of).docs.map((d) => {
    const md = d["metadata"] as Record<string, unknown>;
    if (d["kind"] === "BaselineAdminNetworkPolicy") return d; // the singleton "default"
    return { ...d, metadata: { ...md, name: `${String(md["name"])}-${tag}` } };
  });
}

const keyOf = (o: ParsedObject) => o.name.slice(o.kind.length + 1);

/** Normalised table: element order does not matter (nft keeps sets and maps unordered). */
function normal(t: NftTable | ObservedTable): unknown {
  const o = "sets" in t && t.sets instanceof Map ? (t as ObservedTable) : observe(t as NftTable);
  return {
    sets: [...o.sets.values()]
      .map((s) => ({ ...s, elements: [...s.elements].sort() }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    chains: [...o.chains.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
}

/** The inputs the agent would compile: objects rejected in context left out (as the manager does). */
function oracle(objects: ReadonlyMap<string, ParsedObject>): NftTable {
  let inputs = [...objects.values()];
  for (;;) {
    try {
      return compile(buildClusterFromObjects(inputs), NODE).table;
    } catch (e) {
      if (!(e instanceof PolicyInputError)) throw e;
      inputs = inputs.filter((x) => x.name !== e.object);
    }
  }
}

function apply(s: CompilerState, kind: string, key: string, o: ParsedObject | undefined) {
  try {
    return updateObject(s, kind, key, o);
  } catch (e) {
    if (!(e instanceof PolicyInputError)) throw e;
    return updateObject(s, kind, key, undefined);
  }
}

async function run(seed: number): Promise<void> {
  const r = rng(seed);
  const objects = new Map<string, ParsedObject>();
  const put = (d: Doc) => {
    const o = parseObject(d);
    objects.set(o.name, o);
    return o;
  };
  for (const ns of ["x", "y", "z"]) put(randomNamespace(r, ns));
  put(node(NODE, ["192.168.9.1", "fd00:9:ff::1"], { zone: "a" }));
  put(node("n2", ["192.168.9.2"], { zone: "b" }));
  let podN = 0;
  for (let i = 0; i < 10; i++) put(randomPod(r, `p${podN++}`));
  for (let i = 0; i < 3; i++) for (const d of randomPolicies(seed * 7 + i, `s${i}`)) put(d);

  let state = initialState(
    [...objects.values()].filter((o) => {
      try {
        buildClusterFromObjects([o]);
        return true;
      } catch {
        return false;
      }
    }),
    NODE,
  );
  const fake = new FakeNft();
  await fake.run(nftDocument(fullTransaction(materialize(state), true)));
  expect(normal(materialize(state))).toEqual(normal(oracle(objects)));

  for (let step = 0; step < STEPS; step++) {
    const what = r();
    const pods = [...objects.values()].filter((o) => o.kind === "Pod");
    const policies = [...objects.values()].filter(
      (o) => !["Pod", "Namespace", "Node", "Tenant"].includes(o.kind),
    );
    let kind: string;
    let key: string;
    let next: ParsedObject | undefined;
    let label: string;
    if (what < 0.25 || pods.length === 0) {
      next = put(randomPod(r, `p${podN++}`));
      [kind, key, label] = ["Pod", keyOf(next), "pod added"];
    } else if (what < 0.4) {
      const o = pick(r, pods);
      objects.delete(o.name);
      [kind, key, label] = ["Pod", keyOf(o), "pod removed"];
    } else if (what < 0.55) {
      const o = pick(r, pods);
      const d = structuredClone(o.data) as {
        metadata: { labels: Record<string, string> };
        spec: { nodeName?: string };
        status?: { podIP?: string; podIPs?: { ip: string }[] };
      };
      d.metadata.labels = {
        pod: pick(r, ["a", "b", "c"]),
        ...(r() < 0.5 ? { team: pick(r, ["red", "blue"]) } : {}),
      };
      // Now and then the pod also moves (another node, another address: a restarted pod).
      if (r() < 0.3) {
        d.spec.nodeName = pick(r, [NODE, "n2"]);
        const ip = `10.${NET}.${Math.floor(r() * 3)}.${1 + Math.floor(r() * 12)}`;
        d.status = { podIP: ip, podIPs: [{ ip }] };
      }
      next = put({ ...(d as unknown as Doc), apiVersion: "v1", kind: "Pod" });
      [kind, key, label] = ["Pod", keyOf(next), "pod relabelled"];
    } else if (what < 0.68) {
      const name = pick(r, ["x", "y", "z", "w"]);
      if (r() < 0.15 && objects.has(`Namespace ${name}`)) {
        objects.delete(`Namespace ${name}`);
        [kind, key, label] = ["Namespace", name, "namespace removed"];
      } else {
        next = put(randomNamespace(r, name));
        [kind, key, label] = ["Namespace", name, "namespace relabelled"];
      }
    } else if (what < 0.8) {
      // Add or change: a generated policy under an existing or a new name.
      const docs = randomPolicies(
        seed * 1000 + step,
        r() < 0.5 && policies.length > 0 ? "s0" : `n${step}`,
      ).filter((d) => d["kind"] !== "Tenant");
      const d = docs[0] as Doc;
      next = put(d);
      [kind, key, label] = [next.kind, keyOf(next), "policy added or changed"];
    } else if (what < 0.92 && policies.length > 0) {
      const o = pick(r, policies);
      objects.delete(o.name);
      [kind, key, label] = [o.kind, keyOf(o), "policy removed"];
    } else if (what < 0.96) {
      next = put(
        tenant("t", {
          namespaceSelector: { matchLabels: { ns: pick(r, ["x", "y", "z"]) } },
          isolation: pick(r, ["Strict", "Baseline"]),
          allow: { namespaces: [pick(r, ["x", "y", "z", "w"])] },
        }),
      );
      [kind, key, label] = ["Tenant", "t", "tenant"];
    } else {
      next = put(node("n2", [pick(r, ["192.168.9.2", "192.168.9.3"])], { zone: pick(r, ["a", "b"]) }));
      [kind, key, label] = ["Node", "n2", "node"];
    }
    const u = apply(state, kind, key, next);
    const where = `seed ${seed} step ${step} (${label} ${kind} ${key})`;
    const want = normal(oracle(objects));
    if (JSON.stringify(normal(materialize(u.state))) !== JSON.stringify(want))
      console.error(`differs at ${where}`);
    expect({ where, table: normal(materialize(u.state)) }).toEqual({ where, table: want });
    if (u.delta.full) {
      await fake.run(nftDocument(fullTransaction(materialize(u.state), true)));
    } else {
      const cmds = deltaCommands(state, u.state, u.delta);
      if (cmds.length > 0) await fake.run(nftDocument(cmds));
      // Revocation reads the delta as it would read the driver's diff of the whole table.
      const full = diffTable(observe(materialize(state)), materialize(u.state));
      if (full !== "rebuild") {
        const local = new Map([...localPodsOfState(state.local), ...localPodsOfState(u.state.local)]);
        const fromDelta = revocationFor("incremental", cmds, local, POLICY_TABLE).prefixes;
        const fromDiff = revocationFor("diff", full, local, POLICY_TABLE).prefixes;
        expect({ where, revoke: fromDelta }).toEqual({ where, revoke: fromDiff });
      }
    }
    const listing = await fake.listTable();
    expect({ where, kernel: normal(parseListing(listing as { nftables: unknown[] })) }).toEqual({
      where,
      kernel: want,
    });
    state = u.state;
  }
}

const BUDGET_MS = Number(process.env["TRELLIS_INC_BUDGET_MS"] ?? 40_000);

describe("incremental compiler = full compile, after every step of random event sequences", () => {
  it(
    `${SEEDS} seeds x ${STEPS} steps (or ${BUDGET_MS / 1000} s)`,
    async () => {
      // Bounded in steps and in time: on a loaded machine fewer seeds run, never fewer than 5.
      const t0 = Date.now();
      let seeds = 0;
      for (let seed = 1; seed <= SEEDS; seed++) {
        if (seeds >= 5 && Date.now() - t0 > BUDGET_MS) break;
        await run(seed);
        seeds++;
      }
      expect(seeds).toBeGreaterThanOrEqual(Math.min(5, SEEDS));
    },
    BUDGET_MS + 60_000,
  );
});
