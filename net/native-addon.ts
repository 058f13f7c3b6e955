/**
 * Loading one of our Node-API addons (net/sockopt, net/netlink: C files that
 * scripts/build-native compiles next to their .js in dist/): once, on first
 * use, so code that never needs one runs on a machine where it was not built,
 * and with an error that names the addon, the way to build it and the
 * loader's reason when it is missing.
 */
import { createRequire } from "node:module";

/**
 * A loader of `./NAME.node` beside the module at `moduleUrl` (its
 * `import.meta.url`): the addon, or an Error with `code` (TRELLIS_ENO…).
 */
export function addonLoader<T>(moduleUrl: string, name: string, code: string): () => T {
  let addon: T | undefined;
  return () => {
    if (addon !== undefined) return addon;
    try {
      addon = createRequire(moduleUrl)(`./${name}.node`) as T;
      return addon;
    } catch (e) {
      const err = new Error(
        `native addon ${name} not available (scripts/build-native builds it): ${messageOf(e)}`,
      ) as Error & { code: string };
      err.code = code;
      throw err;
    }
  };
}

/**
 * An error's message. No instanceof: an addon's errors come from the main
 * realm, and jest runs tests in a vm context, where they are not `Error`s.
 */
export function messageOf(e: unknown): string {
  const m = typeof e === "object" && e !== null ? (e as { message?: unknown }).message : undefined;
  return typeof m === "string" ? m : String(e);
}
