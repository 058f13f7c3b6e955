/**
 * `trellisctl ipam show|check|release`: reads pools, blocks, affinities,
 * pods and nodes from the API, runs the pure check (agent/ipam/ipam-check.ts)
 * and formats. `release` frees exactly what `check` reports, after
 * confirmation (`--yes` for scripts), with compare-and-swap writes.
 */
import { createInterface } from "node:readline";
import type { RequestOptions } from "node:https";
import { KubeConfig, type KubernetesListObject, type V1Node, type V1Pod } from "@kubernetes/client-node";
import { KubeClient } from "../../agent/k8s/kube-client.js";
import { resourcePath } from "../../agent/k8s/kube-request.js";
import { type ClusterAccess, accessFromResolved } from "../../agent/k8s/kubeconfig.js";
import type { Command } from "commander";
import { type IPAMBlock } from "../../crds/ipam.js";
import { type Finding, type IpamSnapshot, check, releasePlan, usage } from "../../agent/ipam/ipam-check.js";
import { KubeIpamApi } from "../../agent/ipam/ipam-api.js";
import { CliError, errorText, EXIT_FAILURE, EXIT_USAGE } from "../exit-codes.js";
import { formatJson, formatTable, parseOutputFormat } from "../output.js";
import type { Io } from "../program.js";

interface IpamOpts {
  kubeconfig?: string;
  output: string;
  yes?: boolean;
}

export function kubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path !== undefined) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (e) {
    // client-node throws a bare TypeError on an empty or non-mapping file;
    // say what is wrong with the file instead of leaking that.
    const msg = e instanceof TypeError ? "not a kubeconfig (empty or not a YAML mapping)" : errorText(e);
    throw new CliError(`kubeconfig ${path ?? "(default)"}: ${msg}`, EXIT_USAGE);
  }
  if (!kc.getCurrentCluster())
    throw new CliError(
      `kubeconfig ${path ?? "(default)"}: no cluster for the current context "${kc.getCurrentContext()}"`,
      EXIT_USAGE,
    );
  return kc;
}

/**
 * The agent's own client (agent/k8s/kube-client.ts, which KubeIpamApi takes)
 * for the cluster and user this kubeconfig resolved to (loadFromDefault's
 * search included), with the credentials client-node resolves for it
 * (accessFromResolved: CA, client certificate, bearer token of a token, an
 * exec plugin or an auth provider, fetched once as the CLI runs for
 * seconds; basic auth; impersonation).
 */
export async function kubeClientFor(kc: KubeConfig): Promise<KubeClient> {
  const c = kc.getCurrentCluster();
  if (c === null) throw new CliError("kubeconfig: no current cluster", EXIT_USAGE);
  const opts: RequestOptions = {};
  let access: ClusterAccess;
  try {
    await kc.applyToHTTPSOptions(opts);
    access = accessFromResolved(c, opts);
  } catch (e) {
    throw new CliError(`kubeconfig: credentials: ${errorText(e)}`, EXIT_USAGE);
  }
  return new KubeClient(access);
}

/** `fn` with a client for `kc` (kubeClientFor), closed after it either way. */
export async function withKubeClient<T>(kc: KubeConfig, fn: (client: KubeClient) => Promise<T>): Promise<T> {
  const client = await kubeClientFor(kc);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export async function snapshot(client: KubeClient): Promise<IpamSnapshot> {
  const api = new KubeIpamApi(client);
  try {
    const [pools, blocks, affinities, pods, nodes] = await Promise.all([
      api.listPools(),
      api.ipamBlocks.list(),
      api.blockAffinities.list(),
      client.get<KubernetesListObject<V1Pod>>(resourcePath({ group: "", version: "v1", plural: "pods" })),
      client.get<KubernetesListObject<V1Node>>(resourcePath({ group: "", version: "v1", plural: "nodes" })),
    ]);
    return {
      pools,
      blocks,
      affinities,
      pods: pods.items.map((p) => ({
        namespace: p.metadata?.namespace ?? "",
        name: p.metadata?.name ?? "",
        node: p.spec?.nodeName,
        ips: (p.status?.podIPs ?? []).map((x) => x.ip),
      })),
      nodes: nodes.items.map((n) => n.metadata?.name ?? ""),
    };
  } catch (e) {
    throw new CliError(`cannot read IPAM state from the API server: ${errorText(e)}`, EXIT_FAILURE);
  }
}

function findingsTable(f: readonly Finding[]): string {
  return formatTable(
    ["kind", "block", "address", "handle", "message"],
    f.map((x) => [x.kind, x.block ?? x.affinity ?? "", x.address ?? "", x.handle ?? "", x.message]),
  );
}

async function confirm(io: Io, question: string): Promise<boolean> {
  io.err(question);
  const rl = createInterface({ input: process.stdin });
  try {
    const line = await new Promise<string>((resolve) => {
      rl.once("line", resolve);
      rl.once("close", () => resolve(""));
    });
    return /^y(es)?$/i.test(line.trim());
  } finally {
    rl.close();
  }
}

/** Removes the given handles from a block with compare-and-swap (re-read on 409). */
async function releaseHandles(api: KubeIpamApi, name: string, handles: ReadonlySet<string>): Promise<number> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const b: IPAMBlock | undefined = await api.ipamBlocks.get(name);
    if (b === undefined) return 0;
    const kept = b.spec.allocations.filter((a) => !handles.has(a.handle));
    const n = b.spec.allocations.length - kept.length;
    if (n === 0) return 0;
    const r = await api.ipamBlocks.replace({ ...b, spec: { ...b.spec, allocations: kept } });
    if (r === "gone") return 0;
    if (r !== "conflict") return n;
  }
  throw new CliError(`block ${name}: gave up after 8 conflicting writes`, EXIT_FAILURE);
}

export function registerIpam(program: Command, io: Io): void {
  const ipam = program.command("ipam").description("Inspect and repair Trellis IP address management");
  const common = (c: Command): Command =>
    c
      .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, ~/.kube/config)")
      .option("-o, --output <format>", "json|table", (v) => parseOutputFormat(v), "table");

  common(ipam.command("show").description("Pools and blocks with their usage")).action(
    async (o: IpamOpts) => {
      const u = usage(await withKubeClient(kubeConfig(o.kubeconfig), snapshot));
      if (o.output === "json") {
        io.out(formatJson(u));
        return;
      }
      io.out(
        formatTable(
          ["pool", "cidr", "block size", "disabled", "blocks", "in use", "reserved", "capacity", "status"],
          u.pools.map((p) => [
            p.name,
            p.deleted ? "-" : p.cidr,
            p.deleted ? "-" : (p.blockSize ?? "default"),
            p.disabled,
            p.blocks,
            p.inUse,
            p.reserved,
            p.capacity,
            p.status,
          ]),
        ),
      );
      io.out("\n");
      io.out(
        formatTable(
          ["block", "cidr", "pool", "node", "in use", "reserved", "status"],
          u.blocks.map((b) => [
            b.name,
            b.cidr,
            b.pool,
            b.node ?? "",
            `${b.inUse}/${b.size}`,
            b.reserved,
            b.status,
          ]),
        ),
      );
    },
  );

  common(
    ipam
      .command("check")
      .description(
        "Find leaked allocations, addresses of missing pods, duplicates, orphan blocks and blocks that overlap",
      ),
  ).action(async (o: IpamOpts) => {
    const findings = check(await withKubeClient(kubeConfig(o.kubeconfig), snapshot));
    if (o.output === "json") io.out(formatJson({ findings }));
    else if (findings.length === 0) io.out("no problems found\n");
    else io.out(findingsTable(findings));
    if (findings.length > 0) {
      throw new CliError(
        `${findings.length} problem(s) found; \`trellisctl ipam release\` frees them`,
        EXIT_FAILURE,
      );
    }
  });

  common(ipam.command("release").description("Free what `ipam check` reports, after confirmation"))
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (o: IpamOpts) => {
      const kc = kubeConfig(o.kubeconfig);
      const snap = await withKubeClient(kc, snapshot);
      const findings = check(snap);
      if (findings.length === 0) {
        if (o.output === "json")
          io.out(formatJson({ findings: [], released: 0, blocksDeleted: [], affinitiesDeleted: [] }));
        else io.out("no problems found; nothing to release\n");
        return;
      }
      const plan = releasePlan(findings, snap.blocks);
      if (o.output !== "json") io.out(findingsTable(findings));
      const handles = [...plan.handles.values()].reduce((n, s) => n + s.size, 0);
      if (o.yes !== true) {
        const ok = await confirm(
          io,
          `release ${handles} allocation(s), delete ${plan.blocks.length} block(s) and ${plan.affinities.length} affinit(ies)? [y/N] `,
        );
        if (!ok) throw new CliError("aborted: nothing released", EXIT_FAILURE);
      }
      let released = 0;
      const blocksDeleted: string[] = [];
      const affinitiesDeleted: string[] = [];
      await withKubeClient(kc, async (client) => {
        const api = new KubeIpamApi(client);
        for (const [block, hs] of plan.handles) released += await releaseHandles(api, block, hs);
        for (const name of plan.blocks) {
          const b = await api.ipamBlocks.get(name);
          if (b === undefined) continue;
          const r = await api.ipamBlocks.delete(name, b.metadata.resourceVersion);
          if (r === "ok") blocksDeleted.push(name);
        }
        // Only what was deleted is reported so: a conflict or an affinity already gone is not.
        for (const a of plan.affinities)
          if ((await api.blockAffinities.delete(a)) === "ok") affinitiesDeleted.push(a);
      });
      const result = { findings, released, blocksDeleted, affinitiesDeleted };
      if (o.output === "json") io.out(formatJson(result));
      else
        io.out(
          `released ${released} allocation(s); deleted ${blocksDeleted.length} block(s), ${affinitiesDeleted.length} affinit(ies)\n`,
        );
    });
}
