/**
 * A lab suite and its own lab: the suite wrapper that fails, naming what is
 * missing, where the lab cannot run (not root, no BIRD, no reference ptp
 * plugin), and one suite's own lab directory, taken down after it.
 */
import { afterAll, beforeAll, describe } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labPrefix } from "../../lab/lab-names.js";
import { requireExecutable, requireRoot } from "../support/require.js";
import { kubectlIn, trellisctl, type Run } from "./lab-commands.js";

/**
 * A lab suite. CI is root with every tool installed, so a missing prerequisite
 * fails the suite with the package to install instead of skipping it (a skip
 * would hide a regression; test/README.md).
 */
export function maybe(name: string, fn: () => void): void {
  describe(name, () => {
    beforeAll(() => {
      requireRoot(`the lab suite "${name}"`);
      requireExecutable("/usr/sbin/bird", "bird2");
      requireExecutable("/usr/lib/cni/ptp", "containernetworking-plugins");
    });
    fn();
  });
}

/** One suite's lab: its own directory (unique, so its netns prefix is too) and kubectl against it. */
export interface SuiteLab {
  /** The mkdtemp directory the suite owns; the lab is `dir` inside it. */
  base: string;
  dir: string;
  /** The prefix of every network namespace this lab makes (lab/lab-names.ts). */
  prefix: string;
  kubectl(...args: string[]): Promise<Run>;
}

/**
 * A lab directory under a fresh `<tmp>/<tmpName>XXXXXX`, taken down
 * (`lab down`) and removed after the suite; `beforeDown` runs first (to stop
 * what the suite started in the lab's namespaces, or take down a second lab).
 */
export function useSuiteLab(
  tmpName: string,
  opts: { beforeDown?: () => Promise<unknown>; downTimeoutMs?: number } = {},
): SuiteLab {
  const base = mkdtempSync(join(tmpdir(), tmpName));
  const dir = join(base, "lab");
  afterAll(async () => {
    await opts.beforeDown?.();
    await trellisctl("lab", "down", "--dir", dir);
    rmSync(base, { recursive: true, force: true });
  }, opts.downTimeoutMs ?? 120_000);
  return {
    base,
    dir,
    prefix: labPrefix(dir),
    kubectl: (...args) => kubectlIn(dir, ...args),
  };
}
