/**
 * A BGP-fabric lab for one describe block (tenant-communities.test.ts,
 * filters.test.ts): `trellisctl lab up --nodes N --dir <mkdtemp>` before its
 * tests, down after them, with what those tests ask of it: kubectl, the
 * ToR's birdc, a namespace's routes, the blocks by node and pool, the
 * agents' pids and the ToR sessions' state-change times (a session that was
 * reset has a new one).
 */
import { afterAll, beforeAll } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { labLayout } from "../../lab/lab-layout.js";
import { labPrefix } from "../../lab/lab-names.js";
import { kubectlApply, run, trellisctl, type Run } from "../lab/lab-run.js";

/** Polls `f` every 100 ms until it gives a value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export interface Block {
  cidr: string;
  pool: string;
  node: string;
}

export class FabricLab {
  readonly dir = mkdtempSync(join(tmpdir(), "trellis-fabric-"));
  readonly prefix = labPrefix(this.dir);

  constructor(readonly nodes: number) {}

  kubectl(...args: string[]): Promise<Run> {
    return run("kubectl", ["--kubeconfig", join(this.dir, "kubeconfig"), ...args]);
  }

  /** `kubectl apply` that must succeed. */
  async apply(yaml: string): Promise<void> {
    const r = await kubectlApply(this.dir, yaml);
    if (r.code !== 0) throw new Error(`kubectl apply: ${r.err}`);
  }

  /** `kubectl patch KIND NAME --type=merge` that must succeed. */
  async patch(kind: string, name: string, patch: unknown): Promise<void> {
    const r = await this.kubectl("patch", kind, name, "--type=merge", "-p", JSON.stringify(patch));
    if (r.code !== 0) throw new Error(`kubectl patch ${kind} ${name}: ${r.err}`);
  }

  /** The ToR's BIRD: `birdc -s DIR/tor/bird.ctl ARGS`. */
  async birdc(...args: string[]): Promise<string> {
    return (await run("birdc", ["-s", labLayout(this.dir).birdSocket, ...args])).out;
  }

  /** `ip route show` lines in the ToR's or a node's namespace. */
  async routes(where: string, ...args: string[]): Promise<string[]> {
    const r = await run("ip", ["-n", `${this.prefix}${where}`, "route", "show", ...args]);
    return r.out.split("\n").filter((l) => l.trim() !== "");
  }

  async blocks(): Promise<Block[]> {
    const r = await this.kubectl("get", "ipamblocks", "-o", "json");
    const items = (
      JSON.parse(r.out) as { items: { spec: { cidr: string; pool: string; affinity?: string } }[] }
    ).items;
    return items.map((b) => ({
      cidr: b.spec.cidr,
      pool: b.spec.pool,
      node: (b.spec.affinity ?? "").replace(/^host:/, ""),
    }));
  }

  /** The pid of every node's agent, node-1 first. */
  agentPids(): number[] {
    return Array.from({ length: this.nodes }, (_, i) =>
      Number(readFileSync(labLayout(this.dir).node(`node-${i + 1}`).agentPid, "utf8")),
    );
  }

  /** Each ToR session (`node_<i>`, `node_<i>_v6`) with its state and the time it last changed state. */
  async sessions(): Promise<string[]> {
    const out = await this.birdc("show", "protocols");
    return out
      .split("\n")
      .filter((l) => /^node_\d/.test(l))
      .map((l) => l.split(/\s+/).slice(0, 5).join(" "));
  }

  /** Pods Running (by name, in `namespace`). */
  async running(namespace: string, names: string[]): Promise<void> {
    await waitFor(
      `pods ${names.join(", ")} Running in ${namespace}`,
      async () => {
        const r = await this.kubectl("get", "pods", "-n", namespace, "-o", "json");
        const items = (
          JSON.parse(r.out) as { items: { metadata: { name: string }; status?: { phase?: string } }[] }
        ).items;
        const up = new Set(items.filter((p) => p.status?.phase === "Running").map((p) => p.metadata.name));
        return names.every((n) => up.has(n)) ? true : undefined;
      },
      60_000,
    );
  }

  /** Up before the describe block's tests (down again if that fails), down after them. */
  forSuite(setup: () => Promise<void>): void {
    beforeAll(async () => {
      try {
        const r = await trellisctl("lab", "up", "--nodes", String(this.nodes), "--dir", this.dir);
        if (r.code !== 0) throw new Error(`lab up failed: ${r.err}`);
        await setup();
      } catch (e) {
        await this.down();
        throw e;
      }
    }, 240_000);
    afterAll(() => this.down(), 60_000);
  }

  async down(): Promise<void> {
    await trellisctl("lab", "down", "--dir", this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
