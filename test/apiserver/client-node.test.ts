/**
 * The lab API server driven by the real @kubernetes/client-node, as the
 * agent will drive a real cluster: CRUD, selectors, paging, conflicts,
 * namespace cascade, CRDs with schema validation and pruning, watch resume.
 */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import {
  ApiextensionsV1Api,
  CoreV1Api,
  NetworkingV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type V1NetworkPolicySpec,
  type V1Pod,
} from "@kubernetes/client-node";
import { SERVERS, WIDGET_CRD, failure, raw, startHarness, type Harness } from "./harness.js";

let h: Harness;

/**
 * Polls until `f` holds (bounded: 30 s). The embedded server collects
 * garbage and removes a CRD's objects before answering; the real one's
 * garbage collector and CRD finalizer do it soon after.
 */
async function eventually(what: string, f: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`not after 30 s: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** True when `read` answers 404. */
const isGone = (read: () => Promise<unknown>): Promise<boolean> =>
  read().then(
    () => false,
    (e: { code?: number }) => e.code === 404,
  );
/** Leaves out the ConfigMap the real control plane publishes in every namespace (root-ca-certificate-publisher). */
const NOT_ROOT_CA = "metadata.name!=kube-root-ca.crt";
let core: CoreV1Api;
let crds: ApiextensionsV1Api;
let custom: CustomObjectsApi;

/**
 * A pod for a scheduler that does not run: the real control plane's
 * kube-scheduler would otherwise bind it and write a PodScheduled condition (a
 * new resourceVersion) between a test's read and its update.
 */
function pod(name: string, labels: Record<string, string> = {}, nodeName?: string): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels },
    spec: {
      schedulerName: "no-scheduler",
      ...(nodeName !== undefined ? { nodeName } : {}),
      containers: [{ name: "c", image: "busybox", ports: [{ containerPort: 80 }] }],
    },
  };
}

async function ns(name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
}

/** Collects watch events until `n` arrived (or the timeout passes). */
async function collect(
  path: string,
  query: Record<string, string>,
  n: number,
  during: () => Promise<void> = async () => {},
): Promise<{ type: string; name: string; rv: string; obj: Record<string, unknown> }[]> {
  const events: { type: string; name: string; rv: string; obj: Record<string, unknown> }[] = [];
  const w = new Watch(h.kc);
  let ctl: AbortController | undefined;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 10_000);
    void w
      .watch(
        path,
        query,
        (type, obj: { metadata?: { name?: string; resourceVersion?: string } }) => {
          events.push({
            type,
            name: obj.metadata?.name ?? "",
            rv: obj.metadata?.resourceVersion ?? "",
            obj: obj as Record<string, unknown>,
          });
          if (events.length >= n) {
            clearTimeout(timer);
            resolve();
          }
        },
        () => {
          clearTimeout(timer);
          resolve();
        },
      )
      .then((c) => {
        ctl = c;
      });
  });
  await new Promise((r) => setTimeout(r, 100));
  await during();
  await done;
  ctl?.abort();
  return events;
}

describe.each(SERVERS)("on the %s API server", (kind) => {
  beforeAll(async () => {
    h = await startHarness({ historySize: 1000 }, kind);
    core = h.kc.makeApiClient(CoreV1Api);
    crds = h.kc.makeApiClient(ApiextensionsV1Api);
    custom = h.kc.makeApiClient(CustomObjectsApi);
  }, 120_000);

  afterAll(async () => {
    await h.stop();
  });

  describe("discovery", () => {
    it("serves /version, health endpoints and legacy discovery", async () => {
      // The release differs (the embedded server answers as 1.32, kubectl's; the real one is versions.env's).
      expect((await raw(h.url, "/version")).body).toMatchObject({
        major: "1",
        minor: expect.stringMatching(/^\d+$/),
        gitVersion: expect.stringMatching(/^v1\.\d+\.\d+/),
      });
      for (const p of ["/healthz", "/readyz", "/livez"]) expect((await raw(h.url, p)).text).toBe("ok");
      expect((await raw(h.url, "/api")).body).toMatchObject({ kind: "APIVersions", versions: ["v1"] });
      const groups = (await raw(h.url, "/apis")).body as { groups: { name: string }[] };
      expect(groups.groups.map((g) => g.name)).toEqual(
        expect.arrayContaining([
          "networking.k8s.io",
          "coordination.k8s.io",
          "discovery.k8s.io",
          "apiextensions.k8s.io",
        ]),
      );
      const core = (await raw(h.url, "/api/v1")).body as {
        resources: { name: string; namespaced: boolean }[];
      };
      expect(core.resources.map((r) => r.name)).toEqual(
        expect.arrayContaining([
          "namespaces",
          "namespaces/status",
          "pods",
          "pods/status",
          "nodes",
          "nodes/status",
          "services",
          "endpoints",
          "secrets",
          "configmaps",
          "serviceaccounts",
        ]),
      );
    });

    it("serves aggregated discovery v2 when asked, with its content type", async () => {
      const accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
      const res = await fetch(`${h.url}/apis`, { headers: { Accept: accept } });
      expect(res.headers.get("content-type")).toBe(
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
      );
      const body = (await res.json()) as {
        kind: string;
        items: {
          metadata: { name: string };
          versions: { resources: { resource: string; scope: string }[] }[];
        }[];
      };
      expect(body.kind).toBe("APIGroupDiscoveryList");
      const np = body.items.find((i) => i.metadata.name === "networking.k8s.io");
      expect(np?.versions[0]?.resources.find((r) => r.resource === "networkpolicies")).toMatchObject({
        resource: "networkpolicies",
        scope: "Namespaced",
      });
    });

    it("advertises fieldValidation in OpenAPI v3 so kubectl leaves validation to the server", async () => {
      const root = (await raw(h.url, "/openapi/v3")).body as {
        paths: Record<string, { serverRelativeURL: string }>;
      };
      const url = root.paths["api/v1"]?.serverRelativeURL ?? "";
      expect(url).toMatch(/^\/openapi\/v3\/api\/v1\?hash=/);
      const doc = JSON.stringify((await raw(h.url, url)).body);
      expect(doc).toContain('"/api/v1/namespaces/{namespace}/pods/{name}"');
      expect(doc).toContain('"name":"fieldValidation","in":"query"');
      // /openapi/v2 is a documented gap of the embedded server (lab/apiserver/README.md).
      expect((await raw(h.url, "/openapi/v2")).status).toBe(kind === "embedded" ? 404 : 200);
    });
  });

  describe("core CRUD", () => {
    it("creates, reads, updates and deletes a pod with server-set metadata", async () => {
      await ns("crud");
      const body = pod("p1", { app: "a" });
      const created = await core.createNamespacedPod({ namespace: "crud", body });
      expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
      expect(created.metadata?.generation).toBe(1);
      expect(created.status?.phase).toBe("Pending");
      const got = await core.readNamespacedPod({ namespace: "crud", name: "p1" });
      expect(got.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
      got.metadata = { ...got.metadata, labels: { app: "b" } };
      const updated = await core.replaceNamespacedPod({ namespace: "crud", name: "p1", body: got });
      expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(
        Number(created.metadata?.resourceVersion),
      );
      expect(updated.metadata?.generation).toBe(1); // labels are metadata: no generation bump
      const list = await core.listNamespacedPod({ namespace: "crud" });
      expect(list.items.map((p) => p.metadata?.name)).toEqual(["p1"]);
      await core.deleteNamespacedPod({ namespace: "crud", name: "p1" });
      const e = await failure(() => core.readNamespacedPod({ namespace: "crud", name: "p1" }));
      expect(e.httpCode).toBe(404);
      expect(e.reason).toBe("NotFound");
    });

    it("accepts a PUT that omits server-defaulted fields (defaults apply on update too)", async () => {
      await ns("defaults");
      // What admission adds on create (the real server's ServiceAccount plugin: serviceAccountName,
      // the token volume) is not a default and may not be dropped by a PUT; this pod names its
      // ServiceAccount and opts out of the token, so only defaults are left to the server.
      const admitted = (p: V1Pod): V1Pod => ({
        ...p,
        spec: {
          ...(p.spec ?? { containers: [] }),
          serviceAccountName: "default",
          automountServiceAccountToken: false,
        },
      });
      await core.createNamespacedPod({ namespace: "defaults", body: admitted(pod("d")) });
      const cur = await core.readNamespacedPod({ namespace: "defaults", name: "d" });
      const fresh = admitted(pod("d", { changed: "yes" }));
      fresh.metadata = { ...fresh.metadata, resourceVersion: cur.metadata?.resourceVersion ?? "" };
      const upd = await core.replaceNamespacedPod({ namespace: "defaults", name: "d", body: fresh });
      expect(upd.metadata?.labels).toEqual({ changed: "yes" });
      expect(upd.spec?.restartPolicy).toBe("Always");
      const bad = admitted(pod("d"));
      bad.spec = { ...bad.spec, containers: [{ name: "other", image: "x" }] };
      const e = await failure(() =>
        core.replaceNamespacedPod({ namespace: "defaults", name: "d", body: bad }),
      );
      expect(e.httpCode).toBe(422);
      expect(e.details?.causes?.[0]?.field).toBe("spec");
    });

    it("bumps generation on spec changes only, on the kinds that have one", async () => {
      await ns("gen");
      const mp = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
      const np = (from: string): V1NetworkPolicySpec => ({
        podSelector: {},
        ingress: [{ _from: [{ ipBlock: { cidr: from } }] }],
      });
      await h.kc.makeApiClient(NetworkingV1Api).createNamespacedNetworkPolicy({
        namespace: "gen",
        body: { metadata: { name: "p" }, spec: np("10.0.0.0/8") },
      });
      const net = h.kc.makeApiClient(NetworkingV1Api);
      const a = await net.patchNamespacedNetworkPolicy(
        { namespace: "gen", name: "p", body: { metadata: { labels: { x: "1" } } } },
        mp,
      );
      expect(a.metadata?.generation).toBe(1);
      const b = await net.patchNamespacedNetworkPolicy(
        { namespace: "gen", name: "p", body: { spec: np("10.1.0.0/16") } },
        mp,
      );
      expect(b.metadata?.generation).toBe(2);
      // A Service's strategy keeps no generation (upstream pkg/registry/core/service).
      await core.createNamespacedService({
        namespace: "gen",
        body: { metadata: { name: "s" }, spec: { ports: [{ port: 80 }] } },
      });
      const sv = await core.patchNamespacedService(
        { namespace: "gen", name: "s", body: { spec: { ports: [{ port: 81 }] } } },
        mp,
      );
      expect(sv.metadata?.generation).toBeUndefined();
      expect(sv.spec?.clusterIP).toMatch(/^10\.96\./);
    });

    it("answers 409 AlreadyExists for an existing name and 409 Conflict for a stale resourceVersion", async () => {
      await ns("conflict");
      const cm = await core.createNamespacedConfigMap({
        namespace: "conflict",
        body: { metadata: { name: "c" }, data: { a: "1" } },
      });
      const dup = await failure(() =>
        core.createNamespacedConfigMap({ namespace: "conflict", body: { metadata: { name: "c" } } }),
      );
      expect(dup.httpCode).toBe(409);
      expect(dup.reason).toBe("AlreadyExists");
      await core.replaceNamespacedConfigMap({
        namespace: "conflict",
        name: "c",
        body: { ...cm, data: { a: "2" } },
      });
      const stale = await failure(() =>
        core.replaceNamespacedConfigMap({
          namespace: "conflict",
          name: "c",
          body: { ...cm, data: { a: "3" } },
        }),
      );
      expect(stale.httpCode).toBe(409);
      expect(stale.reason).toBe("Conflict");
      expect(stale.message).toContain("the object has been modified");
      const now = await core.readNamespacedConfigMap({ namespace: "conflict", name: "c" });
      expect(now.data).toEqual({ a: "2" });
    });

    it("requires the namespace to exist and deletes a namespace's objects with it", async () => {
      const missing = await failure(() => core.createNamespacedPod({ namespace: "nope", body: pod("x") }));
      expect(missing.httpCode).toBe(404);
      expect(missing.message).toBe('namespaces "nope" not found');
      await ns("doomed");
      await core.createNamespacedPod({ namespace: "doomed", body: pod("a") });
      await core.createNamespacedConfigMap({ namespace: "doomed", body: { metadata: { name: "cm" } } });
      await core.deleteNamespace({ name: "doomed" });
      // The embedded server empties and removes the namespace before answering; the real one
      // marks it Terminating and its namespace controller finishes the job soon after.
      const deadline = Date.now() + 30_000;
      while ((await raw(h.url, "/api/v1/namespaces/doomed")).status !== 404 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      expect(
        (await core.listPodForAllNamespaces({ fieldSelector: "metadata.namespace=doomed" })).items,
      ).toHaveLength(0);
      const e = await failure(() => core.readNamespacedConfigMap({ namespace: "doomed", name: "cm" }));
      expect(e.httpCode).toBe(404);
      const ge = await failure(() => core.readNamespace({ name: "doomed" }));
      expect(ge.httpCode).toBe(404);
    });

    it("fills in generateName and labels namespaces with kubernetes.io/metadata.name", async () => {
      await ns("gen-name");
      const p = await core.createNamespacedPod({
        namespace: "gen-name",
        body: { ...pod(""), metadata: { generateName: "web-" } },
      });
      expect(p.metadata?.name).toMatch(/^web-[a-z0-9]{5}$/);
      const n = await core.readNamespace({ name: "gen-name" });
      expect(n.metadata?.labels?.["kubernetes.io/metadata.name"]).toBe("gen-name");
    });

    it("drops fields a built-in type does not have, and refuses them under fieldValidation=Strict", async () => {
      // Raw HTTP: client-node's typed serializer would itself drop the unknown fields.
      const body = JSON.stringify({
        ...pod("typo"),
        spec: { containers: [{ name: "c", image: "busybox", imagePolicy: "x" }], nodeNmae: "n1" },
      });
      const post = (q: string): Promise<{ status: number; body: unknown; text: string }> =>
        raw(h.url, `/api/v1/namespaces/gen/pods${q}`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body,
        });
      const strict = await post("?fieldValidation=Strict");
      expect(strict.status).toBe(400);
      expect(strict.text).toContain('unknown field \\"spec.nodeNmae\\"');
      expect(strict.text).toContain('unknown field \\"spec.containers[0].imagePolicy\\"');
      const lax = await post("");
      expect(lax.status).toBe(201);
      expect(lax.text).not.toContain("nodeNmae");
      expect(lax.text).not.toContain("imagePolicy");
      expect(lax.text).toContain('"image":"busybox"');
    });

    it("refuses invalid names with 422 Invalid and a metadata.name cause", async () => {
      const e = await failure(() => core.createNamespace({ body: { metadata: { name: "Bad_Name" } } }));
      expect(e.httpCode).toBe(422);
      expect(e.reason).toBe("Invalid");
      expect(e.details?.causes?.[0]?.field).toBe("metadata.name");
    });
  });

  describe("networkpolicies", () => {
    it("defaults policyTypes and port protocols, and refuses invalid policies with 422", async () => {
      const net = h.kc.makeApiClient(NetworkingV1Api);
      await ns("np");
      const np = await net.createNamespacedNetworkPolicy({
        namespace: "np",
        body: {
          metadata: { name: "allow-web" },
          spec: {
            podSelector: { matchLabels: { app: "web" } },
            ingress: [{ ports: [{ port: 80 }], _from: [{ namespaceSelector: {} }] }],
          },
        },
      });
      expect(np.spec?.policyTypes).toEqual(["Ingress"]);
      expect(np.spec?.ingress?.[0]?.ports?.[0]?.protocol).toBe("TCP");
      const e = await failure(() =>
        net.createNamespacedNetworkPolicy({
          namespace: "np",
          body: {
            metadata: { name: "bad" },
            spec: {
              podSelector: {},
              egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/16", except: ["192.168.0.0/24"] } }] }],
            },
          },
        }),
      );
      expect(e.httpCode).toBe(422);
      expect(e.details?.causes?.[0]?.field).toBe("spec.egress[0].to[0].ipBlock.except[0]");
    });
  });

  describe("deletion", () => {
    it("keeps an object with finalizers until they are removed", async () => {
      await ns("fin");
      await core.createNamespacedConfigMap({
        namespace: "fin",
        body: { metadata: { name: "held", finalizers: ["example.com/hold"] } },
      });
      await core.deleteNamespacedConfigMap({ namespace: "fin", name: "held" });
      const held = await core.readNamespacedConfigMap({ namespace: "fin", name: "held" });
      expect(held.metadata?.deletionTimestamp).toBeInstanceOf(Date);
      await core.patchNamespacedConfigMap(
        { namespace: "fin", name: "held", body: { metadata: { finalizers: null } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      const e = await failure(() => core.readNamespacedConfigMap({ namespace: "fin", name: "held" }));
      expect(e.httpCode).toBe(404);
    });

    it("garbage-collects dependents by ownerReferences, and orphans them when asked", async () => {
      const owner = async (
        name: string,
      ): Promise<{ apiVersion: string; kind: string; name: string; uid: string }> => {
        const o = await core.createNamespacedConfigMap({ namespace: "fin", body: { metadata: { name } } });
        return { apiVersion: "v1", kind: "ConfigMap", name, uid: o.metadata?.uid ?? "" };
      };
      const dep = (
        name: string,
        ownerReferences: { apiVersion: string; kind: string; name: string; uid: string }[],
      ) => core.createNamespacedSecret({ namespace: "fin", body: { metadata: { name, ownerReferences } } });
      const o1 = await owner("owner-1");
      const o2 = await owner("owner-2");
      const o3 = await owner("owner-3");
      await dep("only-o1", [o1]);
      await dep("o1-and-o2", [o1, o2]);
      await dep("only-o3", [o3]);
      await core.createNamespacedConfigMap({
        namespace: "fin",
        body: {
          metadata: {
            name: "grandchild",
            ownerReferences: [
              {
                apiVersion: "v1",
                kind: "Secret",
                name: "only-o1",
                uid:
                  (await core.readNamespacedSecret({ namespace: "fin", name: "only-o1" })).metadata?.uid ??
                  "",
              },
            ],
          },
        },
      });
      await core.deleteNamespacedConfigMap({ namespace: "fin", name: "owner-1" });
      await eventually("only-o1 collected", () =>
        isGone(() => core.readNamespacedSecret({ namespace: "fin", name: "only-o1" })),
      );
      await eventually("grandchild collected", () =>
        isGone(() => core.readNamespacedConfigMap({ namespace: "fin", name: "grandchild" })),
      );
      await eventually("o1-and-o2 keeps only owner-2", async () => {
        const both = await core.readNamespacedSecret({ namespace: "fin", name: "o1-and-o2" });
        return JSON.stringify(both.metadata?.ownerReferences?.map((r) => r.name)) === '["owner-2"]';
      });
      await core.deleteNamespacedConfigMap({
        namespace: "fin",
        name: "owner-3",
        propagationPolicy: "Orphan",
      });
      await eventually("only-o3 orphaned", async () => {
        const orphan = await core.readNamespacedSecret({ namespace: "fin", name: "only-o3" });
        return orphan.metadata?.ownerReferences === undefined;
      });
      // Its last owner gone, the two-owner dependent goes too.
      await core.deleteNamespacedConfigMap({ namespace: "fin", name: "owner-2" });
      await eventually("o1-and-o2 collected", () =>
        isGone(() => core.readNamespacedSecret({ namespace: "fin", name: "o1-and-o2" })),
      );
      await core.deleteNamespacedSecret({ namespace: "fin", name: "only-o3" });
    });

    it("deletes a collection by label selector", async () => {
      for (const [n, app] of [
        ["a", "x"],
        ["b", "x"],
        ["c", "y"],
      ] as const)
        await core.createNamespacedConfigMap({
          namespace: "fin",
          body: { metadata: { name: n, labels: { app } } },
        });
      await core.deleteCollectionNamespacedConfigMap({ namespace: "fin", labelSelector: "app=x" });
      const left = await core.listNamespacedConfigMap({ namespace: "fin", fieldSelector: NOT_ROOT_CA });
      expect(left.items.map((c) => c.metadata?.name)).toEqual(["c"]);
    });

    it("honours a resourceVersion precondition on delete and dryRun on create", async () => {
      const c = await core.readNamespacedConfigMap({ namespace: "fin", name: "c" });
      const e = await failure(() =>
        core.deleteNamespacedConfigMap({
          namespace: "fin",
          name: "c",
          body: { preconditions: { resourceVersion: "1" } },
        }),
      );
      expect(e.httpCode).toBe(409);
      await core.deleteNamespacedConfigMap({
        namespace: "fin",
        name: "c",
        body: { preconditions: { resourceVersion: c.metadata?.resourceVersion ?? "" } },
      });
      await core.createNamespacedConfigMap({
        namespace: "fin",
        dryRun: "All",
        body: { metadata: { name: "dry" } },
      });
      expect(
        (await failure(() => core.readNamespacedConfigMap({ namespace: "fin", name: "dry" }))).httpCode,
      ).toBe(404);
    });
  });

  describe("selectors", () => {
    beforeAll(async () => {
      await ns("sel");
      await core.createNamespacedPod({ namespace: "sel", body: pod("a", { app: "web", tier: "fe" }, "n1") });
      await core.createNamespacedPod({ namespace: "sel", body: pod("b", { app: "web", tier: "be" }, "n2") });
      await core.createNamespacedPod({ namespace: "sel", body: pod("c", { app: "db" }, "n1") });
      await core.createNamespacedPod({ namespace: "sel", body: pod("d", {}) });
    });

    const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> =>
      (
        await core.listNamespacedPod({
          namespace: "sel",
          ...(labelSelector !== undefined ? { labelSelector } : {}),
          ...(fieldSelector !== undefined ? { fieldSelector } : {}),
        })
      ).items.map((p) => p.metadata?.name ?? "");

    it.each([
      ["app=web", ["a", "b"]],
      ["app==web", ["a", "b"]],
      ["app!=web", ["c", "d"]],
      ["tier in (fe,be)", ["a", "b"]],
      ["tier notin (fe)", ["b", "c", "d"]],
      ["tier", ["a", "b"]],
      ["!tier", ["c", "d"]],
      ["app=web,tier=be", ["b"]],
    ])("label selector %s", async (sel, want) => {
      expect(await names(sel)).toEqual(want);
    });

    it.each([
      ["spec.nodeName=n1", ["a", "c"]],
      ["spec.nodeName!=n1", ["b", "d"]],
      ["metadata.name=b", ["b"]],
      ["status.phase=Pending,spec.nodeName=n2", ["b"]],
      ["metadata.namespace=other", []],
      ["spec.hostNetwork=false", ["a", "b", "c", "d"]],
    ])("field selector %s", async (sel, want) => {
      expect(await names(undefined, sel)).toEqual(want);
    });

    it("rejects a malformed label selector with 400 BadRequest", async () => {
      const e = await failure(() =>
        core.listNamespacedPod({ namespace: "sel", labelSelector: "app in (web" }),
      );
      expect(e.httpCode).toBe(400);
      expect(e.reason).toBe("BadRequest");
    });

    it("rejects an unsupported field selector with 400 BadRequest", async () => {
      const e = await failure(() =>
        core.listNamespacedPod({ namespace: "sel", fieldSelector: "spec.bogus=1" }),
      );
      expect(e.httpCode).toBe(400);
      expect(e.message).toContain("field label not supported");
    });
  });

  describe("paging", () => {
    it("pages with limit/continue consistently while objects change underneath", async () => {
      // Secrets, not ConfigMaps: the real control plane publishes kube-root-ca.crt into every namespace.
      await ns("page");
      for (let i = 0; i < 25; i++)
        await core.createNamespacedSecret({
          namespace: "page",
          body: { metadata: { name: `cm-${String(i).padStart(2, "0")}` } },
        });
      const first = await core.listNamespacedSecret({ namespace: "page", limit: 10 });
      expect(first.items).toHaveLength(10);
      expect(first.metadata?.remainingItemCount).toBe(15);
      const token = first.metadata?._continue;
      expect(token).toBeTruthy();
      // Concurrent writes between pages must not shift or duplicate items.
      await core.deleteNamespacedSecret({ namespace: "page", name: "cm-03" });
      await core.deleteNamespacedSecret({ namespace: "page", name: "cm-15" });
      await core.createNamespacedSecret({ namespace: "page", body: { metadata: { name: "cm-00a" } } });
      const seen = first.items.map((c) => c.metadata?.name ?? "");
      let cont = token;
      while (cont !== undefined && cont !== "") {
        const page = await core.listNamespacedSecret({ namespace: "page", limit: 10, _continue: cont });
        expect(page.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
        seen.push(...page.items.map((c) => c.metadata?.name ?? ""));
        cont = page.metadata?._continue;
      }
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `cm-${String(i).padStart(2, "0")}`));
      const fresh = await core.listNamespacedSecret({ namespace: "page" });
      expect(fresh.items).toHaveLength(24);
    });

    it("rejects a garbled continue token with 400", async () => {
      const e = await failure(() =>
        core.listNamespacedSecret({ namespace: "page", limit: 1, _continue: "garbage!" }),
      );
      expect(e.httpCode).toBe(400);
    });
  });

  describe("bad requests", () => {
    const postConfigMap = (contentType: string, body: string) =>
      raw(h.url, "/api/v1/namespaces/default/configmaps", {
        method: "POST",
        headers: { "Content-Type": contentType },
        body,
      });

    it("answers malformed JSON with a 400 Status", async () => {
      const r = await postConfigMap("application/json", '{"metadata": {"name": "x"');
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ kind: "Status", status: "Failure", reason: "BadRequest", code: 400 });
    });

    it("accepts a YAML body and answers malformed YAML with a 400 Status", async () => {
      const ok = await postConfigMap(
        "application/yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n",
      );
      expect(ok.status).toBe(201);
      expect(ok.body).toMatchObject({ metadata: { name: "from-yaml" }, data: { k: "v" } });
      const bad = await postConfigMap("application/yaml", "metadata:\n  name: [unclosed\n");
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ kind: "Status", reason: "BadRequest" });
    });

    it("answers an unknown resource with a 404 Status", async () => {
      const r = await raw(h.url, "/api/v1/namespaces/default/gizmos");
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ kind: "Status", reason: "NotFound", code: 404 });
      const g = await raw(h.url, "/apis/nope.example.com/v1/things");
      expect(g.status).toBe(404);
    });
  });

  describe("patch", () => {
    it("applies merge, JSON and strategic merge patches (containers merge by name)", async () => {
      await ns("patch");
      await core.createNamespacedPod({ namespace: "patch", body: pod("p", { a: "1" }) });
      const merged = await core.patchNamespacedPod(
        { namespace: "patch", name: "p", body: { metadata: { labels: { b: "2", a: null } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      expect(merged.metadata?.labels).toEqual({ b: "2" });
      const jp = await core.patchNamespacedPod(
        {
          namespace: "patch",
          name: "p",
          body: [{ op: "add", path: "/metadata/annotations", value: { "x/y": "z" } }],
        },
        setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
      );
      expect(jp.metadata?.annotations).toEqual({ "x/y": "z" });
      const smp = await core.patchNamespacedPod(
        {
          namespace: "patch",
          name: "p",
          body: { spec: { containers: [{ name: "c", image: "busybox:1.36" }] } },
        },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      );
      expect(smp.spec?.containers).toHaveLength(1);
      expect(smp.spec?.containers[0]?.image).toBe("busybox:1.36");
      expect(smp.spec?.containers[0]?.ports?.[0]?.containerPort).toBe(80);
      const failed = await failure(() =>
        core.patchNamespacedPod(
          { namespace: "patch", name: "p", body: [{ op: "test", path: "/metadata/name", value: "other" }] },
          setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
        ),
      );
      expect(failed.httpCode).toBe(422);
    });

    it("writes pod status through the status subresource only", async () => {
      const p = await core.readNamespacedPod({ namespace: "patch", name: "p" });
      const viaMain = await core.replaceNamespacedPod({
        namespace: "patch",
        name: "p",
        body: { ...p, status: { phase: "Running" } },
      });
      expect(viaMain.status?.phase).toBe("Pending");
      const viaStatus = await core.patchNamespacedPodStatus(
        {
          namespace: "patch",
          name: "p",
          body: { status: { phase: "Running", podIP: "10.0.0.5", podIPs: [{ ip: "10.0.0.5" }] } },
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      expect(viaStatus.status?.phase).toBe("Running");
      expect(viaStatus.status?.podIP).toBe("10.0.0.5");
      const pods = await core.listNamespacedPod({
        namespace: "patch",
        fieldSelector: "status.phase=Running",
      });
      expect(pods.items).toHaveLength(1);
    });
  });

  describe("custom resources", () => {
    const G = { group: "example.com", version: "v1", namespace: "crs", plural: "widgets" };

    beforeAll(async () => {
      // Raw JSON: client-node's typed serializer expects camelCase schema keys
      // (xKubernetesPreserveUnknownFields, _default), the manifest uses wire names.
      const r = await raw(h.url, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(WIDGET_CRD),
      });
      expect(r.status).toBe(201);
      await ns("crs");
    });

    it("serves a created CRD in discovery and reports it Established", async () => {
      // kube-apiserver's establishing controller sets Established a moment
      // after the create answers (it waits for the new storage to serve), so a
      // client waits for the condition as `kubectl wait --for=condition=Established`
      // does; CI caught it still "False" on the first read.
      const established = async (): Promise<string | undefined> => {
        const crd = await crds.readCustomResourceDefinition({ name: "widgets.example.com" });
        return crd.status?.conditions?.find((c) => c.type === "Established")?.status;
      };
      await eventually("widgets.example.com Established", async () => (await established()) === "True");
      expect(await established()).toBe("True");
      // Discovery is the API server's other controller for a new CRD; it too
      // catches up asynchronously.
      await eventually(
        "/apis/example.com/v1 served",
        async () => (await raw(h.url, "/apis/example.com/v1")).status === 200,
      );
      const disc = await raw(h.url, "/apis/example.com/v1");
      expect(disc.status).toBe(200);
      expect(JSON.stringify(disc.body)).toContain('"name":"widgets/status"');
    });

    it("creates, prunes unknown fields, applies defaults and lists custom resources", async () => {
      const w = (await custom.createNamespacedCustomObject({
        ...G,
        body: {
          apiVersion: "example.com/v1",
          kind: "Widget",
          metadata: { name: "w1" },
          spec: { cidr: "10.0.0.0/24", bogus: 1, extra: { keep: true } },
        },
      })) as { spec: Record<string, unknown> };
      expect(w.spec).toEqual({ cidr: "10.0.0.0/24", mode: "Allow", extra: { keep: true } });
      const list = (await custom.listNamespacedCustomObject(G)) as { items: unknown[] };
      expect(list.items).toHaveLength(1);
    });

    it.each([
      [{ cidr: "not-a-cidr" }, "spec.cidr"],
      [{ cidr: "10.0.0.0/8", port: 70000 }, "spec.port"],
      [{}, "spec.cidr"],
      [{ cidr: "10.0.0.0/8", mode: "Maybe" }, "spec.mode"],
      [{ cidr: "10.0.0.0/8", tags: ["a", "b", "c"] }, "spec.tags"],
      [{ cidr: "10.0.0.0/8", tags: ["toolong"] }, "spec.tags[0]"],
      [{ cidr: 42 }, "spec.cidr"],
    ])("rejects spec %j with 422 Invalid at %s", async (spec, field) => {
      const e = await failure(() =>
        custom.createNamespacedCustomObject({
          ...G,
          body: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "bad" }, spec },
        }),
      );
      expect(e.httpCode).toBe(422);
      expect(e.reason).toBe("Invalid");
      expect(e.details?.causes?.map((c) => c.field)).toContain(field);
    });

    it("keeps status out of main-resource writes and spec out of status writes", async () => {
      const cur = (await custom.getNamespacedCustomObject({ ...G, name: "w1" })) as Record<
        string,
        unknown
      > & {
        metadata: Record<string, unknown>;
      };
      const upd = (await custom.replaceNamespacedCustomObject({
        ...G,
        name: "w1",
        body: { ...cur, spec: { cidr: "10.1.0.0/16" }, status: { ready: true } },
      })) as { spec: { cidr: string }; status?: unknown; metadata: { generation: number } };
      expect(upd.spec.cidr).toBe("10.1.0.0/16");
      expect(upd.status).toBeUndefined();
      expect(upd.metadata.generation).toBe(2);
      const st = (await custom.patchNamespacedCustomObjectStatus(
        { ...G, name: "w1", body: { status: { ready: true }, spec: { cidr: "1.1.1.1/32" } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      )) as { spec: { cidr: string }; status: { ready: boolean }; metadata: { generation: number } };
      expect(st.status.ready).toBe(true);
      expect(st.spec.cidr).toBe("10.1.0.0/16");
      expect(st.metadata.generation).toBe(2);
    });

    it("requires a resourceVersion on custom resource updates", async () => {
      const cur = (await custom.getNamespacedCustomObject({ ...G, name: "w1" })) as {
        metadata: Record<string, unknown>;
      };
      const { resourceVersion: _rv, ...meta } = cur.metadata;
      const e = await failure(() =>
        custom.replaceNamespacedCustomObject({ ...G, name: "w1", body: { ...cur, metadata: meta } }),
      );
      expect(e.httpCode).toBe(422);
      expect(e.details?.causes?.[0]?.field).toBe("metadata.resourceVersion");
    });

    it("refuses a strategic merge patch on a custom resource with 415", async () => {
      const e = await failure(() =>
        custom.patchNamespacedCustomObject(
          { ...G, name: "w1", body: { spec: { port: 8 } } },
          setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
        ),
      );
      expect(e.httpCode).toBe(415);
    });

    it("serves every served version, converting apiVersion", async () => {
      const w = (await custom.getNamespacedCustomObject({ ...G, version: "v1beta1", name: "w1" })) as {
        apiVersion: string;
      };
      expect(w.apiVersion).toBe("example.com/v1beta1");
    });

    it("works with the generic KubernetesObjectApi (discovery-driven)", async () => {
      const generic = KubernetesObjectApi.makeApiClient(h.kc);
      const spec = {
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name: "generic", namespace: "crs" },
        spec: { cidr: "10.9.0.0/16" },
      };
      await generic.create(spec);
      const got = (await generic.read({
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name: "generic", namespace: "crs" },
      })) as unknown as { spec: { cidr: string; mode: string } };
      expect(got.spec).toEqual({ cidr: "10.9.0.0/16", mode: "Allow" });
      const patched = (await generic.patch(
        { ...spec, spec: { cidr: "10.8.0.0/16" } },
        undefined,
        undefined,
        undefined,
        undefined,
        PatchStrategy.MergePatch,
      )) as unknown as { spec: { cidr: string } };
      expect(patched.spec.cidr).toBe("10.8.0.0/16");
      await generic.delete(spec);
    });

    it("rejects a CRD whose name does not match its names", async () => {
      const bad = structuredClone(WIDGET_CRD);
      bad.metadata.name = "gadgets.example.com";
      const e = await failure(() => crds.createCustomResourceDefinition({ body: bad }));
      expect(e.httpCode).toBe(422);
      expect(e.details?.causes?.map((c) => c.field)).toContain("metadata.name");
    });

    it("stops serving a deleted CRD and its objects", async () => {
      await crds.deleteCustomResourceDefinition({ name: "widgets.example.com" });
      await eventually(
        "widgets no longer served",
        async () => (await raw(h.url, "/apis/example.com/v1/namespaces/crs/widgets")).status === 404,
      );
      const d = await raw(h.url, "/apis/example.com/v1");
      expect(d.status).toBe(404);
    });
  });

  describe("watch", () => {
    it("resumes from a resourceVersion and delivers exactly the later changes, in order", async () => {
      await ns("watch");
      await core.createNamespacedConfigMap({ namespace: "watch", body: { metadata: { name: "before" } } });
      const rv = (await core.listNamespacedConfigMap({ namespace: "watch" })).metadata?.resourceVersion ?? "";
      await core.createNamespacedConfigMap({ namespace: "watch", body: { metadata: { name: "a" } } });
      await core.patchNamespacedConfigMap(
        { namespace: "watch", name: "a", body: { data: { k: "v" } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      await core.deleteNamespacedConfigMap({ namespace: "watch", name: "before" });
      const ev = await collect(
        "/api/v1/namespaces/watch/configmaps",
        // kube-controller-manager publishes kube-root-ca.crt into every new
        // namespace on its own schedule; it may land after rv.
        { resourceVersion: rv, fieldSelector: NOT_ROOT_CA },
        4,
        async () => {
          await core.createNamespacedConfigMap({ namespace: "watch", body: { metadata: { name: "live" } } });
        },
      );
      expect(ev.map((e) => `${e.type} ${e.name}`)).toEqual([
        "ADDED a",
        "MODIFIED a",
        "DELETED before",
        "ADDED live",
      ]);
      const rvs = ev.map((e) => Number(e.rv));
      expect([...rvs].sort((x, y) => x - y)).toEqual(rvs);
      expect(rvs[0]).toBeGreaterThan(Number(rv));
    });

    it("accepts a watch from a resourceVersion ahead of the store and sends nothing until the store passes it", async () => {
      const rv = Number(
        (await core.listNamespacedConfigMap({ namespace: "watch" })).metadata?.resourceVersion,
      );
      const res = fetch(
        `${h.url}/api/v1/namespaces/watch/configmaps?watch=1&timeoutSeconds=2&resourceVersion=${rv + 100000}`,
      );
      await new Promise((r) => setTimeout(r, 300));
      await core.createNamespacedConfigMap({ namespace: "watch", body: { metadata: { name: "ahead" } } });
      const r = await res;
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("");
      await core.deleteNamespacedConfigMap({ namespace: "watch", name: "ahead" });
    });

    it("starts with synthetic ADDED events when no resourceVersion is given", async () => {
      const ev = await collect("/api/v1/namespaces/watch/configmaps", { fieldSelector: NOT_ROOT_CA }, 2);
      expect(ev.map((e) => `${e.type} ${e.name}`).sort()).toEqual(["ADDED a", "ADDED live"]);
    });

    it("turns an update that leaves the selector into DELETED and one that enters it into ADDED", async () => {
      await core.createNamespacedConfigMap({
        namespace: "watch",
        body: { metadata: { name: "sel", labels: { on: "yes" } } },
      });
      const rv = (await core.listNamespacedConfigMap({ namespace: "watch" })).metadata?.resourceVersion ?? "";
      const mp = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
      const ev = await collect(
        "/api/v1/namespaces/watch/configmaps",
        { resourceVersion: rv, labelSelector: "on=yes" },
        3,
        async () => {
          await core.patchNamespacedConfigMap(
            { namespace: "watch", name: "sel", body: { data: { x: "1" } } },
            mp,
          );
          await core.patchNamespacedConfigMap(
            { namespace: "watch", name: "sel", body: { metadata: { labels: { on: "no" } } } },
            mp,
          );
          await core.patchNamespacedConfigMap(
            { namespace: "watch", name: "a", body: { metadata: { labels: { on: "yes" } } } },
            mp,
          );
        },
      );
      expect(ev.map((e) => `${e.type} ${e.name}`)).toEqual(["MODIFIED sel", "DELETED sel", "ADDED a"]);
      // The DELETED event carries the last matching state at the new resourceVersion.
      expect((ev[1]?.obj.metadata as { labels: Record<string, string> }).labels.on).toBe("yes");
      expect(Number(ev[1]?.rv)).toBeGreaterThan(Number(ev[0]?.rv));
    });

    it("streams the initial state and an initial-events-end bookmark with sendInitialEvents", async () => {
      const res = await fetch(
        `${h.url}/api/v1/namespaces/watch/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1`,
      );
      const events = (await res.text())
        .trim()
        .split("\n")
        .map(
          (l) =>
            JSON.parse(l) as { type: string; object: { metadata: { annotations?: Record<string, string> } } },
        );
      const end = events.findIndex((e) => e.type === "BOOKMARK");
      expect(end).toBeGreaterThan(0);
      expect(events.slice(0, end).every((e) => e.type === "ADDED")).toBe(true);
      expect(events[end]?.object.metadata.annotations?.["k8s.io/initial-events-end"]).toBe("true");
    });

    it("sends BOOKMARK events when allowed and ends at timeoutSeconds", async () => {
      // The embedded server's bookmark interval is an option; the real one's is its own (cacher).
      const h2 = kind === "embedded" ? await startHarness({ bookmarkIntervalMs: 200 }) : h;
      try {
        const res = await fetch(
          // The real server's watch cache sends a bookmark 2 s before the watch's deadline (cacher's
          // nextBookmarkTime), to watches it serves: resourceVersion 0 is one.
          `${h2.url}/api/v1/namespaces?watch=1&allowWatchBookmarks=true&timeoutSeconds=4&resourceVersion=0`,
        );
        const text = await res.text();
        const events = text
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
        expect(events.map((e) => e.type)).toContain("BOOKMARK");
        // resourceVersion 0: the current namespaces as ADDED, at least the four a cluster starts with.
        expect(events.filter((e) => e.type === "ADDED").map((e) => e.object.metadata.name)).toEqual(
          expect.arrayContaining(["default", "kube-node-lease", "kube-public", "kube-system"]),
        );
      } finally {
        if (h2 !== h) await h2.stop();
      }
    });
  });
});
