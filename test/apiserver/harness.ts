/**
 * Starts an API server and hands out a client-node KubeConfig, a kubeconfig
 * file for kubectl and a plain-http URL for raw requests. Every test file
 * (or every server of a describe.each over SERVERS) gets its own server:
 * - "embedded": the lab API server in-process on an ephemeral loopback port,
 *   with a silent logger;
 * - "real": etcd, kube-apiserver and kube-controller-manager as the lab runs
 *   them (lab/controlplane), the kubeconfig TLS with the admin certificate,
 *   the raw URL the lab's relay (TLS as system:masters behind it).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { startApiServer, type ApiServerOptions, type RunningApiServer } from "../../lab/apiserver/server.js";
import { labKubeconfig } from "../../lab/apiserver/kubeconfig.js";
import {
  startRealControlPlane,
  stopRealControlPlane,
  type ControlPlaneMode,
} from "../../lab/controlplane/control-plane.js";
import { currentTestControlPlane, waitCrdsServed } from "../support/control-plane.js";
import { labLayout } from "../../lab/lab-layout.js";

/**
 * The servers a faithfulness suite runs its cases on: both when the real
 * control plane is built (CI: scripts/bootstrap builds it), else the
 * embedded one alone (TRELLIS_TEST_CONTROL_PLANE=embedded asks for that).
 */
export const SERVERS: readonly ControlPlaneMode[] =
  currentTestControlPlane() === "real" ? ["embedded", "real"] : ["embedded"];

export interface Harness {
  kind: ControlPlaneMode;
  /** plain-http base URL for raw requests (the embedded server, or the real one's relay) */
  url: string;
  /** the embedded server (undefined on the real control plane) */
  server: RunningApiServer | undefined;
  kc: KubeConfig;
  dir: string;
  kubeconfigPath: string;
  stop(): Promise<void>;
}

/** `opts` configure the embedded server only; the real one runs as the lab runs it. */
export async function startHarness(
  opts: ApiServerOptions = {},
  kind: ControlPlaneMode = "embedded",
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "trellis-apiserver-"));
  if (kind === "real") {
    const L = labLayout(dir);
    const cp = await startRealControlPlane(L, () => undefined);
    await waitCrdsServed(cp.relayUrl);
    const kc = new KubeConfig();
    kc.loadFromFile(L.kubeconfig);
    return {
      kind,
      url: cp.relayUrl,
      server: undefined,
      kc,
      dir,
      kubeconfigPath: L.kubeconfig,
      stop: async () => {
        await stopRealControlPlane(L);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const server = await startApiServer({ logger: pino({ level: "silent" }), ...opts });
  const kubeconfigPath = join(dir, "kubeconfig");
  await writeFile(kubeconfigPath, labKubeconfig(server.url));
  const kc = new KubeConfig();
  kc.loadFromString(labKubeconfig(server.url));
  return {
    kind,
    url: server.url,
    server,
    kc,
    dir,
    kubeconfigPath,
    stop: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The Status body of a failed client-node call. */
export function statusOf(e: unknown): {
  code: number;
  reason?: string;
  message?: string;
  details?: { causes?: { field?: string; reason?: string }[] };
} {
  const body = (e as { body?: unknown }).body;
  const parsed: unknown = typeof body === "string" ? JSON.parse(body) : body;
  return parsed as ReturnType<typeof statusOf>;
}

/** Calls fn, expecting it to throw an ApiException; returns its HTTP code and Status. */
export async function failure(
  fn: () => Promise<unknown>,
): Promise<ReturnType<typeof statusOf> & { httpCode: number }> {
  try {
    await fn();
  } catch (e) {
    return { ...statusOf(e), httpCode: (e as { code: number }).code };
  }
  throw new Error("expected the call to fail");
}

export async function raw(
  url: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown; text: string }> {
  const res = await fetch(url + path, init);
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

export const WIDGET_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.com" },
  spec: {
    group: "example.com",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget", shortNames: ["wd"] },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [{ name: "CIDR", type: "string", jsonPath: ".spec.cidr" }],
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                required: ["cidr"],
                properties: {
                  cidr: { type: "string", pattern: "^[0-9.]+/[0-9]+$" },
                  port: { type: "integer", minimum: 1, maximum: 65535 },
                  mode: { type: "string", enum: ["Allow", "Deny"], default: "Allow" },
                  tags: { type: "array", maxItems: 2, items: { type: "string", maxLength: 5 } },
                  extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                },
              },
              status: { type: "object", properties: { ready: { type: "boolean" } } },
            },
          },
        },
      },
      {
        name: "v1beta1",
        served: true,
        storage: false,
        subresources: { status: {} },
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      },
    ],
  },
};
