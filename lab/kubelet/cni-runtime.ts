/**
 * A CNI runtime in the manner of libcni: execs every plugin of a conflist with
 * the CNI_* environment and its config on stdin, chains prevResult through
 * ADD, runs DEL in reverse with the cached result, and caches results on disk
 * under `<cacheDir>/results/<network>-<containerID>-<ifName>` like libcni.
 */
import { accessSync, constants, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "../run-command.js";
import {
  cacheFileName,
  cniArgs,
  cniEnv,
  pluginOrder,
  pluginStdin,
  type CniCommand,
  type CniRuntimeArgs,
  type Conflist,
  type PluginConf,
} from "./cni-request.js";

/** A plugin's error result (CNI spec, "Error"): code, msg, details. */
export class CniPluginError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: CniCommand,
    readonly code: number,
    readonly msg: string,
    readonly details: string,
  ) {
    super(
      `plugin type="${plugin}" ${command} failed (code ${code}): ${msg}${details !== "" ? `; ${details}` : ""}`,
    );
    this.name = "CniPluginError";
  }
}

export interface CacheEntry {
  kind: "cniCacheV1";
  containerId: string;
  config: string;
  ifName: string;
  networkName: string;
  netns: string;
  cniArgs: [string, string][];
  capabilityArgs: Record<string, unknown>;
  result: unknown;
}

export class CniRuntime {
  constructor(
    readonly list: Conflist,
    readonly rawConfig: string,
    readonly cacheDir: string,
    readonly timeoutMs = 60_000,
  ) {}

  static fromFile(file: string, cacheDir: string): CniRuntime {
    const raw = readFileSync(file, "utf8");
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw new Error(`${file}: not JSON`);
    }
    // A single-plugin .conf becomes a one-plugin list (libcni ConfListFromConf).
    const list = (Array.isArray(parsed["plugins"])
      ? parsed
      : { cniVersion: parsed["cniVersion"], name: parsed["name"], plugins: [parsed] }) as unknown as Conflist;
    if (typeof list.name !== "string" || typeof list.cniVersion !== "string" || list.plugins.length === 0) {
      throw new Error(`${file}: not a CNI network configuration (needs name, cniVersion, plugins or type)`);
    }
    return new CniRuntime(list, raw, cacheDir);
  }

  /**
   * The network a runtime uses: the first file of the conf dir in lexical
   * order with a .conf, .conflist or .json extension (libcni ConfFiles, as
   * containerd and CRI-O pick their default network).
   */
  static fromConfDir(confDir: string, cacheDir: string): CniRuntime {
    const files = readdirSync(confDir)
      .filter((f) => /\.(conf|conflist|json)$/.test(f))
      .sort();
    const first = files[0];
    if (first === undefined) throw new Error(`no network config found in ${confDir}`);
    return CniRuntime.fromFile(join(confDir, first), cacheDir);
  }

  /** ADD through the whole list; returns the final result (also cached). */
  async add(a: CniRuntimeArgs): Promise<unknown> {
    let prev: unknown = undefined;
    for (const p of pluginOrder("ADD", this.list)) {
      prev = await this.exec("ADD", p, a, prev);
    }
    this.writeCache(a, prev);
    return prev;
  }

  /**
   * DEL through the list in reverse, every plugin getting the cached ADD
   * result as prevResult. Keeps going past a failing plugin so the others
   * still release what they hold; throws the first error at the end.
   */
  async del(a: CniRuntimeArgs): Promise<void> {
    const cached = this.readCache(a.containerId, a.ifName);
    let first: unknown = undefined;
    for (const p of pluginOrder("DEL", this.list)) {
      try {
        await this.exec("DEL", p, a, cached?.result);
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
    rmSync(this.cachePath(a.containerId, a.ifName), { force: true });
  }

  readCache(containerId: string, ifName: string): CacheEntry | undefined {
    try {
      return JSON.parse(readFileSync(this.cachePath(containerId, ifName), "utf8")) as CacheEntry;
    } catch {
      return undefined;
    }
  }

  private cachePath(containerId: string, ifName: string): string {
    return join(this.cacheDir, "results", cacheFileName(this.list.name, containerId, ifName));
  }

  private writeCache(a: CniRuntimeArgs, result: unknown): void {
    const entry: CacheEntry = {
      kind: "cniCacheV1",
      containerId: a.containerId,
      config: Buffer.from(this.rawConfig).toString("base64"),
      ifName: a.ifName,
      networkName: this.list.name,
      netns: a.netnsPath,
      cniArgs: cniArgs(a.pod, a.containerId),
      capabilityArgs: { ...a.capabilityArgs },
      result,
    };
    mkdirSync(join(this.cacheDir, "results"), { recursive: true });
    writeFileSync(this.cachePath(a.containerId, a.ifName), JSON.stringify(entry));
  }

  private async exec(cmd: CniCommand, p: PluginConf, a: CniRuntimeArgs, prev: unknown): Promise<unknown> {
    const bin = findPlugin(p.type, a.cniPath);
    const stdin = JSON.stringify(pluginStdin(this.list, p, a.capabilityArgs, prev));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, cniEnv(cmd, a));
    const r = await runCommand(bin, [], { input: stdin, env, timeoutMs: this.timeoutMs });
    if (r.code !== 0) throw pluginError(p.type, cmd, r.code, r.signal, r.stdout, r.stderr);
    if (cmd !== "ADD") return prev;
    try {
      return JSON.parse(r.stdout) as unknown;
    } catch {
      throw new CniPluginError(
        p.type,
        cmd,
        999,
        "plugin printed a result that is not JSON",
        r.stdout.slice(0, 200),
      );
    }
  }
}

export function findPlugin(type: string, cniPath: readonly string[]): string {
  if (!/^[A-Za-z0-9._-]+$/.test(type)) throw new CniPluginError(type, "ADD", 1, "invalid plugin type", "");
  for (const d of cniPath) {
    const f = join(d, type);
    try {
      accessSync(f, constants.X_OK);
      return f;
    } catch {
      // next dir
    }
  }
  throw new CniPluginError(
    type,
    "ADD",
    1,
    `failed to find plugin "${type}" in path [${cniPath.join(" ")}]`,
    "",
  );
}

function pluginError(
  type: string,
  cmd: CniCommand,
  code: number | null,
  signal: NodeJS.Signals | null,
  stdout: string,
  stderr: string,
): CniPluginError {
  try {
    const e = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e.code === "number" && typeof e.msg === "string") {
      return new CniPluginError(type, cmd, e.code, e.msg, typeof e.details === "string" ? e.details : "");
    }
  } catch {
    // not a spec-shaped error: report what we have
  }
  const how = signal !== null ? `killed by ${signal}` : `exit ${code}`;
  return new CniPluginError(type, cmd, 999, `plugin ${how}`, (stderr.trim() || stdout.trim()).slice(0, 500));
}
