/**
 * Prerequisites of tests that need root or a tool. CI runs `npm test` as root
 * with every tool installed (scripts/bootstrap), so a missing one means a
 * broken machine, never a reason to skip (test/README.md, skip gate): these
 * throw an error that names what is missing and what brings it, and the
 * suite fails with that message. Call them where the need arises (a
 * `beforeAll`, or the set-up function that needs the privilege).
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";

/** Throws unless the process runs as root; `what` says what needs it. */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0)
    throw new Error(
      `${what} needs root (network namespaces, nftables); CI runs as root: run the tests as root`,
    );
}

/** Throws unless `path` is an executable file; `pkg` is the Debian package that installs it. */
export function requireExecutable(path: string, pkg: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `${path} is missing or not executable: install the Debian package ${pkg} (scripts/bootstrap does)`,
    );
  }
}

/** Throws unless `command` runs from PATH (`args` is a harmless probe, e.g. `version --client`); `pkg` brings it. */
export function requireCommand(command: string, args: string[], pkg: string): void {
  if (spawnSync(command, args, { stdio: "ignore" }).status !== 0)
    throw new Error(`${command} is not on PATH or does not run: install ${pkg} (scripts/bootstrap does)`);
}
