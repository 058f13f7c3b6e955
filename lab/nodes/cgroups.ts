/**
 * A real node's cgroups. The kubelet (cgroupDriver cgroupfs) puts its pods
 * under `cgroupRoot`, which must exist in every hierarchy before it starts;
 * runc also joins the unified hierarchy on this hybrid v1 machine. `lab
 * down` kills what is left in them (a container outlives a SIGKILLed shim)
 * and removes them. Pure: names and the hierarchy list. Edge: the rest.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseMountinfo } from "./mounts.js";

/** `/<lab prefix><node>`: one cgroup root per node and lab, so kubelets never meet. */
export function nodeCgroupRoot(prefix: string, nodeName: string): string {
  return `/${prefix}${nodeName}`;
}

/** Mount points of the cgroup hierarchies (v1 `cgroup` and the unified `cgroup2`) in /proc/self/mountinfo. */
export function cgroupHierarchies(mountinfo: string): string[] {
  const cgroups = parseMountinfo(mountinfo).filter((m) => m.fstype === "cgroup" || m.fstype === "cgroup2");
  return [...new Set(cgroups.map((m) => m.point))];
}

function hierarchies(): string[] {
  return cgroupHierarchies(readFileSync("/proc/self/mountinfo", "utf8"));
}

/**
 * Creates `root` in every v1 hierarchy (the kubelet checks that its
 * cgroup-root exists). A new cpuset cgroup starts with no CPUs and no memory
 * nodes, and no task may join it: it inherits its parent's.
 */
export function createCgroupRoot(root: string): void {
  for (const h of hierarchies()) {
    const dir = join(h, root);
    mkdirSync(dir, { recursive: true });
    for (const f of ["cpuset.cpus", "cpuset.mems"]) {
      const parent = join(h, f);
      if (existsSync(parent) && existsSync(join(dir, f)) && readFileSync(join(dir, f), "utf8").trim() === "")
        writeFileSync(join(dir, f), readFileSync(parent, "utf8"));
    }
  }
}

/** Every cgroup dir at or below `root` in every hierarchy, children before parents. */
function cgroupDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
    out.push(dir);
  };
  for (const h of hierarchies()) walk(join(h, root));
  return out;
}

function procsIn(dirs: readonly string[]): number[] {
  const pids = new Set<number>();
  for (const d of dirs) {
    try {
      for (const s of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) {
        const p = Number.parseInt(s, 10);
        if (Number.isInteger(p) && p > 0) pids.add(p);
      }
    } catch {
      // gone meanwhile
    }
  }
  return [...pids];
}

/**
 * Kills every process left under `root` (the containers: pause, the
 * workloads) and removes its cgroups, children first. Bounded: a few seconds.
 * Returns the pids it killed and the cgroups it could not remove.
 */
export async function removeCgroupRoot(root: string): Promise<{ killed: number[]; left: string[] }> {
  // Never the machine's root cgroup (or a relative path resolving to it): only a lab's own.
  if (!/^\/[^/.][^/]*$/.test(root)) throw new Error(`refusing to remove cgroup root ${JSON.stringify(root)}`);
  const killed = new Set<number>();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pids = procsIn(cgroupDirs(root));
    if (pids.length === 0 || Date.now() > deadline) break;
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
        killed.add(p);
      } catch {
        // gone
      }
    }
    await sleep(100);
  }
  const left: string[] = [];
  for (const d of cgroupDirs(root)) {
    try {
      rmdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") left.push(d);
    }
  }
  return { killed: [...killed], left };
}
