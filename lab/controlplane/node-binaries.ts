/**
 * The cached binaries of a full cluster beside the control plane
 * (kube-scheduler, kube-proxy, …: versions.ts nodeBinaryPaths), or a clear
 * refusal naming scripts/build-k8s, as requireBinaries does for the control
 * plane (lab up never starts a build of many minutes on its own).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { LabError } from "../lab-errors.js";
import { controlPlanePaths, nodeBinaryPaths, readVersions, type NodeBinaries } from "./versions.js";

export type NodeBinary = Exclude<keyof NodeBinaries, "stamps">;

export function requireNodeBinary(which: NodeBinary): string {
  const v = readVersions();
  const b = nodeBinaryPaths(v);
  const path = b[which];
  // scripts/build-k8s marks a finished component with .complete beside its binaries.
  const missing = [join(dirname(path), ".complete"), path].filter((f) => !existsSync(f));
  if (missing.length === 0) return path;
  throw new LabError(
    `${which} (Kubernetes ${v.kubernetes}) is not built (missing ${missing.join(", ")}): ` +
      `build it once with ${controlPlanePaths.buildScript} (scripts/bootstrap does)`,
  );
}
