/**
 * Pod sandboxes: the pod's network namespace, its CNI attachment and its
 * listeners. Setup and teardown are each one sequence of kernel/process
 * steps; the kubelet decides when to run them.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import { stopProcesses } from "../daemon.js";
import { addNetns, delNetns, netnsPath, netnsPids } from "../netns.js";
import { podNetnsName } from "../lab-names.js";
import { portMappings, resultIps, type ContainerPortLike, type CniRuntimeArgs } from "./cni-request.js";
import { CniRuntime } from "./cni-runtime.js";
import { declaredPorts, listenerSpecs } from "./listeners.js";
import type { PodState, PodStateStore } from "./pod-state.js";

export interface SandboxContext {
  netnsPrefix: string;
  conflistFile: string;
  cniCacheDir: string;
  cniPath: string[];
  store: PodStateStore;
}

export interface PodLike {
  uid: string;
  namespace: string;
  name: string;
  containers: readonly { ports?: readonly ContainerPortLike[] }[];
}

export const POD_IFNAME = "eth0";

function runtimeArgs(ctx: SandboxContext, s: PodState): CniRuntimeArgs {
  return {
    containerId: s.containerId,
    netnsPath: netnsPath(s.netns),
    ifName: s.ifName,
    pod: { namespace: s.namespace, name: s.name, uid: s.uid },
    cniPath: ctx.cniPath,
    capabilityArgs: s.capabilityArgs,
  };
}

/**
 * Creates the sandbox. The state is saved before the first kernel change so a
 * crash at any step leaves enough on disk for teardown. On a CNI failure the
 * partial sandbox is torn down and the error rethrown.
 */
export async function setupSandbox(ctx: SandboxContext, pod: PodLike): Promise<PodState> {
  const state: PodState = {
    uid: pod.uid,
    namespace: pod.namespace,
    name: pod.name,
    // containerd gives each sandbox a random 64-hex id; CNI_CONTAINERID carries it.
    containerId: randomBytes(32).toString("hex"),
    netns: podNetnsName(ctx.netnsPrefix, pod.uid),
    ifName: POD_IFNAME,
    ips: [],
    ports: declaredPorts(pod.containers),
    listenerPids: [],
    capabilityArgs: { portMappings: portMappings(pod.containers.flatMap((c) => c.ports ?? [])) },
  };
  ctx.store.save(state);
  if (existsSync(netnsPath(state.netns))) await delNetns(state.netns);
  await addNetns(state.netns);
  const runtime = CniRuntime.fromFile(ctx.conflistFile, ctx.cniCacheDir);
  try {
    const result = await runtime.add(runtimeArgs(ctx, state));
    state.ips = resultIps(result);
  } catch (e) {
    await teardownSandbox(ctx, state).catch(() => undefined);
    throw e;
  }
  state.listenerPids = startListeners(ctx, state);
  ctx.store.save(state);
  return state;
}

function startListeners(ctx: SandboxContext, s: PodState): number[] {
  const log = openSync(ctx.store.logPath(s.uid), "a");
  try {
    return listenerSpecs(s.netns, `${s.namespace}/${s.name}`, s.ports).map((l) => {
      const [cmd, ...args] = l.argv;
      const child = spawn(cmd ?? "nsenter", args, { detached: true, stdio: ["ignore", log, log] });
      child.unref();
      return child.pid ?? 0;
    });
  } finally {
    closeSync(log);
  }
}

/** Stops the listeners, runs CNI DEL (reverse order, cached prevResult), removes the netns and the state. */
export async function teardownSandbox(ctx: SandboxContext, s: PodState): Promise<void> {
  await stopProcesses([...s.listenerPids, ...(await netnsPids(s.netns))], 1000);
  let delError: unknown = undefined;
  try {
    const runtime = CniRuntime.fromFile(ctx.conflistFile, ctx.cniCacheDir);
    await runtime.del(runtimeArgs(ctx, s));
  } catch (e) {
    delError = e;
  }
  await delNetns(s.netns);
  ctx.store.remove(s.uid);
  if (delError !== undefined) throw delError;
}
