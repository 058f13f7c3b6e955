// The request handler the agent serves: CNI env + stdin in, stdout bytes and
// exit code out (SPEC.md section 2 "Execution Protocol"). Everything the spec
// demands of a plugin happens here: env validation, config decoding and
// validation, version negotiation and gating, prevResult parsing, result
// conversion to the requested version and error shaping. The work itself is
// the backend's (backend.ts).
import { parseCniArgs } from "./args.js";
import type { AttachmentRequest, CniBackend, CniCommand, RequestContext } from "./backend.js";
import { validateConfig } from "./config-errors.js";
import { parseCniEnv, type CniEnv } from "./env.js";
import { CniCode, CniError, toCniError } from "./error.js";
import {
  isTrellisIpam,
  trellisIpamSchema,
  trellisNetConfSchema,
  unknownTopLevelKeys,
  type TrellisNetConf,
} from "./netconf.js";
import { formatResult, parseResult } from "./result-convert.js";
import {
  CURRENT_VERSION,
  SUPPORTED_VERSIONS,
  highestSupported,
  isSemver,
  isSupportedVersion,
  versionAtLeast,
  type CniVersion,
} from "./versions.js";

export interface HandlerOutcome {
  /** 0 on success, 1 with a spec error JSON on stdout otherwise. */
  exitCode: number;
  stdout: string;
  /** The command (when the env named a valid one) and the error code, for metrics. */
  command?: CniCommand;
  errorCode?: number;
}

export interface HandlerOptions {
  /** Called with every error answered (for the agent's log); never writes stdout. */
  onError?: (err: CniError, command: CniCommand | undefined) => void;
  /**
   * Called with the unknown top-level keys of a config that was accepted
   * anyway (netconf.ts: runtimes and meta-plugins add their own); the agent
   * logs each key once, at debug.
   */
  onUnknownKeys?: (keys: string[]) => void;
}

/** Minimum config version per command (CHECK: 0.4.0; STATUS, GC: 1.1.0). */
const MIN_VERSION: Partial<Record<CniCommand, string>> = {
  CHECK: "0.4.0",
  STATUS: "1.1.0",
  GC: "1.1.0",
};

const INCOMPATIBLE_DETAILS = `plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`;

/** Decode stdin as one JSON object. Errors: code 6. */
export function decodeConfig(stdin: Buffer): Record<string, unknown> {
  if (stdin.length === 0) {
    throw new CniError(CniCode.DecodingFailure, "failed to decode network config: stdin is empty");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdin.toString("utf8"));
  } catch (e) {
    throw new CniError(CniCode.DecodingFailure, `failed to decode network config: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new CniError(CniCode.DecodingFailure, "failed to decode network config: expected a JSON object");
  }
  if (nestingDepth(parsed) > MAX_CONFIG_DEPTH) {
    throw new CniError(
      CniCode.DecodingFailure,
      `failed to decode network config: nested deeper than ${MAX_CONFIG_DEPTH} levels`,
    );
  }
  return parsed as Record<string, unknown>;
}

/**
 * JSON.parse takes any depth, but everything after it that walks the value
 * recursively (JSON.stringify for error messages, prevResult and delegated
 * IPAM stdin, zod) overflows the stack on a few thousand levels. No real
 * network config comes near this.
 */
export const MAX_CONFIG_DEPTH = 256;

/** Depth of a parsed JSON value, iteratively (the point is not to recurse). */
function nestingDepth(root: object): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d > max) max = d;
    if (max > MAX_CONFIG_DEPTH) return max;
    for (const child of Object.values(v))
      if (child !== null && typeof child === "object") stack.push([child, d + 1]);
  }
  return max;
}

/**
 * The version this exchange runs at: `cniVersion` when we support it (the
 * runtime set it and will parse our result as it); otherwise the highest
 * supported entry of `cniVersions` (1.1.0 configs). Errors: code 1 (or 7 for
 * a value of the wrong type).
 */
export function negotiateVersion(conf: Record<string, unknown>): CniVersion {
  const v = conf.cniVersion;
  const vs = conf.cniVersions;
  if (v !== undefined && typeof v !== "string") {
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      `invalid network config: field "cniVersion" must be a string (got ${JSON.stringify(v)})`,
    );
  }
  if (vs !== undefined && (!Array.isArray(vs) || vs.some((x) => typeof x !== "string"))) {
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      `invalid network config: field "cniVersions" must be a list of strings`,
    );
  }
  if (v !== undefined && isSupportedVersion(v)) return v;
  if (Array.isArray(vs)) {
    const best = highestSupported(vs as string[]);
    if (best !== undefined) return best;
  }
  if (v === undefined && vs === undefined) {
    throw new CniError(
      CniCode.IncompatibleVersion,
      "incompatible CNI versions: network config has no cniVersion",
      INCOMPATIBLE_DETAILS,
    );
  }
  const asked = v !== undefined ? `"${v}"` : JSON.stringify(vs);
  throw new CniError(
    CniCode.IncompatibleVersion,
    `incompatible CNI versions: config is ${asked}${v !== undefined && !isSemver(v) ? " (not a version)" : ""}`,
    INCOMPATIBLE_DETAILS,
  );
}

/** Best-effort version for an error answer before negotiation succeeded. */
function guessVersion(stdin: Buffer): string {
  try {
    const c = JSON.parse(stdin.toString("utf8")) as { cniVersion?: unknown };
    if (typeof c.cniVersion === "string" && isSupportedVersion(c.cniVersion)) return c.cniVersion;
  } catch {
    // not JSON: answer in our own version
  }
  return CURRENT_VERSION;
}

function validate(conf: Record<string, unknown>): TrellisNetConf {
  if (conf.name === undefined || conf.name === "") {
    throw new CniError(CniCode.InvalidNetworkConfig, 'invalid network config: missing network name ("name")');
  }
  const c = validateConfig(trellisNetConfSchema, conf);
  if (isTrellisIpam(c.ipam)) validateConfig(trellisIpamSchema, c.ipam, ["ipam"]);
  return c;
}

/** Serve one CNI invocation. Never throws; every failure is a spec error. */
export async function handleCni(
  env: Readonly<Record<string, string | undefined>>,
  stdin: Buffer,
  backend: CniBackend,
  opts: HandlerOptions = {},
): Promise<HandlerOutcome> {
  let version: string = CURRENT_VERSION;
  let command: CniCommand | undefined;
  try {
    // Errors answer in the config's version whenever it can be read.
    version = guessVersion(stdin);
    const e = parseCniEnv(env);
    command = e.command;
    if (e.command === "VERSION") {
      // SPEC.md "VERSION": the stdin's cniVersion is informational; answer ours.
      return {
        exitCode: 0,
        stdout: JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: SUPPORTED_VERSIONS }),
        command,
      };
    }
    const raw = decodeConfig(stdin);
    const v = negotiateVersion(raw);
    version = v;
    const min = MIN_VERSION[e.command];
    if (min !== undefined && !versionAtLeast(v, min)) {
      throw new CniError(
        CniCode.IncompatibleVersion,
        `config version ${v} does not allow ${e.command} (needs ${min} or later)`,
        INCOMPATIBLE_DETAILS,
      );
    }
    const config = validate(raw);
    if (opts.onUnknownKeys !== undefined) {
      const unknown = unknownTopLevelKeys(raw);
      if (unknown.length > 0) opts.onUnknownKeys(unknown);
    }
    const stdout = await dispatch(e, v, config, env, stdin, backend);
    return { exitCode: 0, stdout, command };
  } catch (err) {
    const ce = toCniError(err);
    opts.onError?.(ce, command);
    const out: HandlerOutcome = {
      exitCode: 1,
      stdout: JSON.stringify(ce.toJSON(version)),
      errorCode: ce.code,
    };
    if (command !== undefined) out.command = command;
    return out;
  }
}

function cniEnvOnly(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith("CNI_") && v !== undefined) out[k] = v;
  return out;
}

async function dispatch(
  e: CniEnv,
  v: CniVersion,
  config: TrellisNetConf,
  env: Readonly<Record<string, string | undefined>>,
  stdin: Buffer,
  backend: CniBackend,
): Promise<string> {
  const ctx: RequestContext = { cniVersion: v, config, path: e.path, env: cniEnvOnly(env), stdin };
  if (e.command === "STATUS") {
    await backend.status(ctx);
    return "";
  }
  if (e.command === "GC") {
    const valid = config["cni.dev/valid-attachments"];
    if (valid === undefined) {
      throw new CniError(
        CniCode.InvalidNetworkConfig,
        'invalid network config: field "cni.dev/valid-attachments" is required for GC',
      );
    }
    await backend.gc({ ...ctx, validAttachments: valid });
    return "";
  }
  const req: AttachmentRequest = {
    ...ctx,
    containerID: e.containerID,
    netns: e.netns,
    ifname: e.ifname,
    args: parseCniArgs(e.args),
  };
  if (config.prevResult !== undefined) {
    // SPEC.md section 4: prevResult is in the same version as the config.
    try {
      req.prevResult = parseResult(config.prevResult, v, "prevResult");
    } catch (err) {
      // DEL must release what it can even from a damaged cache (SPEC.md: "plugins
      // should generally complete a DEL action without error"); the others fail.
      if (e.command !== "DEL") throw err;
    }
  }
  switch (e.command) {
    case "ADD": {
      const result = await backend.add(req);
      const wire = formatResult(result, v);
      try {
        // Never hand the runtime a result it cannot parse: check ours like a prevResult.
        parseResult(wire, v, "result");
      } catch (err) {
        throw new CniError(
          CniCode.Internal,
          `internal error: the backend returned an invalid ${(err as Error).message.replace(/^invalid /, "")}`,
        );
      }
      return JSON.stringify(wire);
    }
    case "DEL":
      await backend.del(req);
      return "";
    case "CHECK": {
      if (req.prevResult === undefined) {
        throw new CniError(
          CniCode.InvalidNetworkConfig,
          'invalid network config: field "prevResult" is required for CHECK',
        );
      }
      await backend.check({ ...req, prevResult: req.prevResult });
      return "";
    }
  }
  throw new CniError(CniCode.InvalidEnvironment, `CNI_COMMAND: unhandled command ${e.command}`);
}
