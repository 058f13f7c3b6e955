/** Resolving the lab dir and its prefix the same way in up, down and status. */
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { labPrefix } from "./lab-names.js";

/** The absolute, symlink-free lab dir (or the absolute path when it does not exist yet). */
export function resolveLabDir(dir: string): string {
  const abs = resolve(dir);
  try {
    return realpathSync(abs);
  } catch {
    return abs;
  }
}

export function prefixForDir(dir: string): string {
  return labPrefix(resolveLabDir(dir));
}
