/**
 * The mounts a real node leaves under the lab dir (the kubelet's volumes and
 * its shared root dir, containerd's snapshots and rootfs, the pods' network
 * namespaces), found in /proc/self/mountinfo and unmounted by `lab down`.
 * Pure: parsing and selection. Edge: makeSharedMount, unmountUnder.
 */
import { readFileSync } from "node:fs";
import { mustRun, runCommand } from "../run-command.js";

/**
 * The mounts of /proc/self/mountinfo (proc(5)): field 5 is the mount point,
 * with space, tab, newline and backslash escaped as octal \ooo; the file
 * system type is the first field after the " - " separator.
 */
export function parseMountinfo(mountinfo: string): { point: string; fstype: string | undefined }[] {
  const out: { point: string; fstype: string | undefined }[] = [];
  for (const line of mountinfo.split("\n")) {
    const f = line.split(" ");
    if (f.length < 5 || f[4] === undefined) continue;
    const point = f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ point, fstype: line.split(" - ")[1]?.split(" ")[0] });
  }
  return out;
}

export function parseMountPoints(mountinfo: string): string[] {
  return parseMountinfo(mountinfo).map((m) => m.point);
}

/** The mount points at or below `dir`, deepest (and, at one depth, latest) first: the order to unmount them. */
export function mountsUnder(points: readonly string[], dir: string): string[] {
  const base = dir.replace(/\/+$/, "");
  const inside = points.map((p, i) => ({ p, i })).filter(({ p }) => p === base || p.startsWith(`${base}/`));
  inside.sort((a, b) => b.p.split("/").length - a.p.split("/").length || b.i - a.i);
  return inside.map(({ p }) => p);
}

/**
 * `dir` bind-mounted onto itself and made shared, so that mounts made below
 * it in another mount namespace copied from this one (the kubelet's, see
 * kubelet-config.ts kubeletArgv) show here too.
 */
export async function makeSharedMount(dir: string): Promise<void> {
  for (const args of [
    ["--bind", dir, dir],
    ["--make-shared", dir],
  ]) {
    await mustRun("mount", args);
  }
}

/**
 * Unmounts everything at or below `dir`, deepest first, lazily when a mount
 * is still busy; a few rounds, since unmounting a shared mount can reveal
 * the mounts beneath it. Returns what it unmounted and what it could not.
 */
export async function unmountUnder(dir: string): Promise<{ unmounted: string[]; left: string[] }> {
  const unmounted: string[] = [];
  for (let round = 0; round < 5; round++) {
    const todo = mountsUnder(parseMountPoints(readFileSync("/proc/self/mountinfo", "utf8")), dir);
    if (todo.length === 0) return { unmounted, left: [] };
    for (const m of todo) {
      const r = await runCommand("umount", [m]);
      if (r.code === 0 || (await runCommand("umount", ["-l", m])).code === 0) unmounted.push(m);
    }
  }
  return {
    unmounted,
    left: mountsUnder(parseMountPoints(readFileSync("/proc/self/mountinfo", "utf8")), dir),
  };
}
