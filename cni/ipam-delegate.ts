// Delegated IPAM (SPEC.md section 4 "Plugin Delegation"): when `ipam.type` is
// not `trellis-ipam`, the plugin execs that IPAM plugin found in CNI_PATH with
// the same environment (CNI_COMMAND set to the operation) and the same network
// config on stdin, and parses its result (ADD) or error. DEL must be delegated
// too so the IPAM plugin frees the address; GC and STATUS (1.1.0) likewise.
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { type ProcessResult, runProcess } from "../net/run-process.js";
import type { RequestContext } from "./backend.js";
import { CniCode, CniError } from "./error.js";
import type { CniResult } from "./result.js";
import { formatResult, parseResult } from "./result-convert.js";
import { compareVersions, isSemver, versionAtLeast } from "./versions.js";

export type DelegatedCommand = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS";

export interface DelegateOptions {
  /** Kill the IPAM plugin after this long (default 60 s): answered as code 11. */
  timeoutMs?: number;
  /** Stdin to send instead of the request's (e.g. a GC config rewritten). */
  stdin?: Buffer;
}

/** Find an executable named `type` in the CNI_PATH directories. */
export async function findPlugin(type: string, path: readonly string[]): Promise<string> {
  if (type.includes("/") || type === "" || type === "." || type === "..") {
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      `invalid network config: field "ipam.type": ${JSON.stringify(type)} is not a plugin name`,
    );
  }
  for (const dir of path) {
    const file = join(dir, type);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // try the next directory
    }
  }
  throw new CniError(
    CniCode.InvalidNetworkConfig,
    `invalid network config: field "ipam.type": plugin ${JSON.stringify(type)} not found in CNI_PATH`,
    `searched ${JSON.stringify(path)}`,
  );
}

/** What of the plugin's output is kept: a result is small, a runaway plugin must not fill our memory. */
const MAX_STDOUT_CHARS = 4 * 1024 * 1024;
const MAX_STDERR_CHARS = 4096;

/** Execs the plugin with exactly `env` (the spec's environment, no more), `stdin` as its input. */
function run(
  file: string,
  env: Record<string, string>,
  stdin: Buffer,
  timeoutMs: number,
): Promise<ProcessResult> {
  return runProcess([file], {
    env,
    input: stdin,
    timeoutMs,
    maxStdoutChars: MAX_STDOUT_CHARS,
    maxStderrChars: MAX_STDERR_CHARS,
  });
}

const versionCache = new Map<string, string[]>();

/** The plugin's VERSION answer (supportedVersions), cached per file. */
export async function pluginVersions(file: string, timeoutMs = 10_000): Promise<string[]> {
  const hit = versionCache.get(file);
  if (hit !== undefined) return hit;
  const exit = await run(file, { CNI_COMMAND: "VERSION" }, Buffer.from('{"cniVersion":"0.4.0"}'), timeoutMs);
  let versions: string[] = [];
  try {
    const j = JSON.parse(exit.stdout) as { supportedVersions?: unknown };
    if (Array.isArray(j.supportedVersions)) {
      versions = j.supportedVersions.filter((v): v is string => typeof v === "string" && isSemver(v));
    }
  } catch {
    versions = [];
  }
  if (exit.timedOut) throw new CniError(CniCode.TryAgainLater, `${file}: VERSION timed out`);
  // Cache only a real answer: a transient failure must not stick.
  if (versions.length > 0) versionCache.set(file, versions);
  return versions;
}

/**
 * The version to speak with the IPAM plugin: ours when it supports it, else
 * the highest version it supports below ours (e.g. the Debian host-local
 * stops at 1.0.0 while the pinned conflist is 1.1.0). The result is converted
 * back, so the runtime never sees the difference.
 */
function pickVersion(ours: string, theirs: readonly string[]): string | undefined {
  if (theirs.includes(ours)) return ours;
  let best: string | undefined;
  for (const v of theirs) {
    if (compareVersions(v, ours) > 0 || !versionAtLeast(v, "0.3.0")) continue;
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  return best;
}

function rewriteVersion(stdin: Buffer, from: string, to: string): Buffer {
  const conf = JSON.parse(stdin.toString("utf8")) as Record<string, unknown>;
  conf.cniVersion = to;
  delete conf.cniVersions;
  if (conf.prevResult !== undefined) {
    conf.prevResult = formatResult(parseResult(conf.prevResult, from, "prevResult"), to);
  }
  return Buffer.from(JSON.stringify(conf));
}

/**
 * Exec the delegated IPAM plugin for `command`. ADD resolves with its result in
 * canonical form; the other commands resolve with undefined. The plugin's own
 * error is re-raised with its code, its msg prefixed by the plugin name. GC and
 * STATUS are skipped (resolve undefined) for a plugin older than 1.1.0, which
 * does not know those commands.
 */
export async function delegateIpam(
  command: DelegatedCommand,
  ctx: RequestContext,
  opts: DelegateOptions = {},
): Promise<CniResult | undefined> {
  const type = ctx.config.ipam?.type;
  if (type === undefined) {
    throw new CniError(CniCode.InvalidNetworkConfig, 'invalid network config: field "ipam" is required');
  }
  const file = await findPlugin(type, ctx.path);
  let theirs: string[];
  try {
    theirs = await pluginVersions(file);
  } catch (e) {
    if (e instanceof CniError) throw e;
    throw new CniError(CniCode.IoFailure, `${type}: failed to exec IPAM plugin: ${(e as Error).message}`);
  }
  const speak = pickVersion(ctx.cniVersion, theirs);
  if (speak === undefined) {
    throw new CniError(
      CniCode.IncompatibleVersion,
      `${type}: IPAM plugin supports none of the versions up to ${ctx.cniVersion}`,
      `plugin supports ${JSON.stringify(theirs)}`,
    );
  }
  if ((command === "GC" || command === "STATUS") && !versionAtLeast(speak, "1.1.0")) return undefined;
  let stdin = opts.stdin ?? ctx.stdin;
  if (speak !== ctx.cniVersion) {
    try {
      stdin = rewriteVersion(stdin, ctx.cniVersion, speak);
    } catch (e) {
      throw new CniError(CniCode.DecodingFailure, `failed to decode network config: ${(e as Error).message}`);
    }
  }
  const env: Record<string, string> = { ...ctx.env, CNI_COMMAND: command };
  let exit: ProcessResult;
  try {
    exit = await run(file, env, stdin, opts.timeoutMs ?? 60_000);
  } catch (e) {
    throw new CniError(CniCode.IoFailure, `${type}: failed to exec IPAM plugin: ${(e as Error).message}`);
  }
  if (exit.timedOut) {
    throw new CniError(CniCode.TryAgainLater, `${type}: IPAM plugin timed out`);
  }
  const text = exit.stdout.trim();
  if (exit.code !== 0) {
    let parsed: { code?: unknown; msg?: unknown; details?: unknown } | undefined;
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    if (parsed && typeof parsed.code === "number" && typeof parsed.msg === "string") {
      throw new CniError(
        parsed.code,
        `${type}: ${parsed.msg}`,
        typeof parsed.details === "string" ? parsed.details : "",
      );
    }
    const why = exit.signal !== null ? `killed by ${exit.signal}` : `exit status ${exit.code}`;
    throw new CniError(
      CniCode.Internal,
      `${type}: IPAM plugin failed (${why})`,
      (exit.stderr.trim() || text).slice(0, 1024),
    );
  }
  if (command !== "ADD") return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CniError(
      CniCode.DecodingFailure,
      `${type}: failed to decode IPAM result: ${(e as Error).message}`,
    );
  }
  const v =
    json !== null &&
    typeof json === "object" &&
    typeof (json as { cniVersion?: unknown }).cniVersion === "string"
      ? (json as { cniVersion: string }).cniVersion
      : speak;
  return parseResult(json, v, `${type} result`);
}
