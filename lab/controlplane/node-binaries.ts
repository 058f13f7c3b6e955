/**
 * The cached builds of scripts/build-k8s, or a clear refusal naming it (lab
 * up never starts a build of many minutes on its own: lab/README.md says
 * why): `requireBuilt` is the one presence check, for the control plane
 * (control-plane.ts requireBinaries), all of the real nodes' parts
 * (requireNodeBinaries) and one binary of theirs (`requireNodeBinary`:
 * kube-scheduler, kube-proxy beside stand-in kubelets); `isBuilt` the same
 * as a question (build lazily, or pick the tests' control plane).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { LabError } from "../lab-errors.js";
import { controlPlanePaths, nodeBinaryPaths, readVersions, type NodeBinaries } from "./versions.js";

/** Whether scripts/build-k8s has finished every component of `b` (each `.complete` stamp is there). */
export function isBuilt(b: { stamps: readonly string[] }): boolean {
  return b.stamps.every((s) => existsSync(s));
}

/**
 * `b` when every one of `files` exists (scripts/build-k8s marks a finished
 * component with a `.complete` stamp beside its binaries), else a LabError:
 * "`what` (missing …): `build` with scripts/build-k8s `otherwise`".
 */
export function requireBuilt<B>(
  b: B,
  files: readonly string[],
  what: string,
  build: string,
  otherwise: string,
): B {
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length === 0) return b;
  throw new LabError(
    `${what} (missing ${missing.join(", ")}): ${build} with ${controlPlanePaths.buildScript} ${otherwise}`,
  );
}

export type NodeBinary = Exclude<keyof NodeBinaries, "stamps">;

export function requireNodeBinary(which: NodeBinary): string {
  const v = readVersions();
  const path = nodeBinaryPaths(v)[which];
  return requireBuilt(
    path,
    [join(dirname(path), ".complete"), path],
    `${which} (Kubernetes ${v.kubernetes}) is not built`,
    "build it once",
    "(scripts/bootstrap does)",
  );
}
