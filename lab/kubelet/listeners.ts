/**
 * The stand-in "containers": for every declared containerPort, a TCP and a
 * UDP listener inside the pod namespace that answers with `<namespace>/<name>`
 * (one pod-echo process per pod, see pod-echo.ts).
 */
import { fileURLToPath } from "node:url";
import { argvInNetns } from "../netns.js";

export const POD_ECHO_MAIN = fileURLToPath(new URL("./pod-echo.js", import.meta.url));

/** Distinct declared port numbers over all containers, ascending. */
export function declaredPorts(
  containers: readonly { ports?: readonly { containerPort: number }[] }[],
): number[] {
  const s = new Set<number>();
  for (const c of containers) for (const p of c.ports ?? []) s.add(p.containerPort);
  return [...s].sort((a, b) => a - b);
}

/** argv of the pod's listener process, or undefined when the pod declares no port. */
export function listenerArgv(
  podNetns: string,
  reply: string,
  ports: readonly number[],
  node = process.execPath,
): string[] | undefined {
  if (!/^[A-Za-z0-9./_-]+$/.test(reply))
    throw new RangeError(`reply ${JSON.stringify(reply)} is not a pod name`);
  if (ports.length === 0) return undefined;
  return argvInNetns(podNetns, [
    node,
    // a few MB of heap is all it needs; keeps many lab pods cheap
    "--max-old-space-size=16",
    POD_ECHO_MAIN,
    "--reply",
    reply,
    ...ports.flatMap((p) => ["--port", String(p)]),
  ]);
}
