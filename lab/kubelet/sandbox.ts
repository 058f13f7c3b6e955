/**
 * Pod sandboxes: the pod's network namespace, its CNI attachment and its
 * listeners. Setup and teardown are each one sequence of kernel/process
 * steps; the kubelet decides when to run them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import { stopProcesses } from "../daemon.js";
import { addNetns, delNetns, namedNetnsPath, netnsPids } from "../netns.js";
import { podNetnsName } from "../lab-names.js";
import { portMappings, resultIps, type ContainerPortLike, type CniRuntimeArgs } from "./cni-request.js";
import { CniRuntime } from "./cni-runtime.js";
import { declaredPorts, listenerArgv } from "./listeners.js";
import type { PodState, PodStateStore } from "./pod-state.js";

export interface SandboxContext {
  netnsPrefix: string;
  /** the node's CNI conf dir; its first network config is used, as a runtime does */
  cniConfDir: string;
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
    netnsPath: namedNetnsPath(s.netns),
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
  if (existsSync(namedNetnsPath(state.netns))) await delNetns(state.netns);
  await addNetns(state.netns);
  const runtime = CniRuntime.fromConfDir(ctx.cniConfDir, ctx.cniCacheDir);
  try {
    const result = await runtime.add(runtimeArgs(ctx, state));
    state.ips = resultIps(result);
  } catch (e) {
    await teardownSandbox(ctx, state).catch(() => undefined);
    throw e;
  }
  try {
    state.listenerPids = await startListeners(ctx, state);
  } catch (e) {
    await teardownSandbox(ctx, state).catch(() => undefined);
    throw e;
  }
  ctx.store.save(state);
  return state;
}

/**
 * Starts the pod's listener process (detached: pods outlive a kubelet
 * restart) and waits for its `ready` line, so Running means reachable.
 */
async function startListeners(ctx: SandboxContext, s: PodState): Promise<number[]> {
  const argv = listenerArgv(s.netns, `${s.namespace}/${s.name}`, s.ports);
  if (argv === undefined) return [];
  const [cmd, ...args] = argv;
  const log = openSync(ctx.store.logPath(s.uid), "a");
  let child: ChildProcess;
  try {
    child = spawn(cmd ?? "nsenter", args, { detached: true, stdio: ["ignore", "pipe", log] });
  } finally {
    closeSync(log);
  }
  child.unref();
  const pid = child.pid ?? 0;
  const stdout = child.stdout;
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => done(new Error("pod listeners not ready within 20 s")), 20_000);
    const done = (e?: Error): void => {
      clearTimeout(timer);
      child.off("exit", onExit);
      stdout?.removeAllListeners("data");
      stdout?.destroy();
      if (e !== undefined) reject(e);
      else resolve();
    };
    const onExit = (code: number | null): void =>
      done(new Error(`pod listeners exited (${code}); see ${ctx.store.logPath(s.uid)}`));
    child.on("exit", onExit);
    stdout?.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("ready\n")) done();
    });
  });
  return [pid];
}

/** Stops the listeners, runs CNI DEL (reverse order, cached prevResult), removes the netns and the state. */
export async function teardownSandbox(ctx: SandboxContext, s: PodState): Promise<void> {
  await stopProcesses([...s.listenerPids, ...(await netnsPids(s.netns))], 1000);
  let delError: unknown = undefined;
  try {
    const runtime = CniRuntime.fromConfDir(ctx.cniConfDir, ctx.cniCacheDir);
    await runtime.del(runtimeArgs(ctx, s));
  } catch (e) {
    delError = e;
  }
  await delNetns(s.netns);
  ctx.store.remove(s.uid);
  if (delError !== undefined) throw delError;
}
