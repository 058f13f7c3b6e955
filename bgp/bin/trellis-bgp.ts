#!/usr/bin/env -S node --max-semi-space-size=2 --v8-pool-size=1
// (The flags, issue 12: V8's young generation grows to 3 × 16 MB semi-spaces
// under a full-table load: peak RSS at 1M prefixes was 225 MB with the
// default, 186 with 4 MB and 163 with 2 MB semi-spaces (1 MB: more is
// promoted, 175). The RIB's per-prefix state lives in the old generation and
// typed arrays and the decoder's garbage dies young, so small semi-spaces cost
// no measurable time. One V8 worker thread instead of Node's four: peak RSS
// at 100k prefixes 82-83 MB instead of 91, at 1M 150-163 instead of 157-171,
// with times level within the runs' spread (test/bench/bgp/README.md).
// test/bench/bgp runs the daemon with the flags of this line.)
// trellis-bgp: the BGP speaker alone, from a config file.
//   trellis-bgp --config FILE [--log-level info]
// Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage or configuration error.
import { Command } from "commander";
import { pino } from "pino";
import { packageVersion, runDaemonProgram } from "../../net/daemon-cli.js";
import { ConfigError } from "../config.js";
import { Daemon, loadConfig } from "./daemon.js";

const version = packageVersion();

const LEVELS = ["trace", "debug", "info", "warn", "error"];

/** A ConfigError's problems on stderr, naming the file: exit code 2. Anything else is rethrown. */
function reportConfigError(e: unknown, configPath: string | undefined): number {
  if (!(e instanceof ConfigError)) throw e;
  process.stderr.write(`trellis-bgp: invalid configuration ${configPath}:\n`);
  for (const p of e.problems) process.stderr.write(`  ${p}\n`);
  return 2;
}

async function main(opts: { config?: string; logLevel: string }): Promise<number> {
  if (!opts.config) {
    process.stderr.write("trellis-bgp: --config FILE is required\n");
    return 2;
  }
  if (!LEVELS.includes(opts.logLevel)) {
    process.stderr.write(`trellis-bgp: --log-level must be one of ${LEVELS.join(", ")}\n`);
    return 2;
  }
  const configPath = opts.config;
  let cfg;
  try {
    cfg = loadConfig(configPath);
  } catch (e) {
    return reportConfigError(e, configPath);
  }
  // pino JSON logs to stderr (fd 2), one child logger per component.
  const log = pino({ level: opts.logLevel, base: { component: "trellis-bgp" } }, pino.destination(2));
  // Last resort: whatever escaped is logged with its stack before the exit, never lost.
  process.on("uncaughtException", (e) => {
    log.fatal({ error: e.stack ?? String(e) }, "uncaught exception");
    process.exit(1);
  });
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(cfg, log);
  } catch (e) {
    return reportConfigError(e, configPath);
  }
  // With no peer, no listener and no control socket nothing else holds the
  // event loop, and Node would end with exit 13 (unsettled top-level await):
  // the daemon must wait for SIGHUP/SIGTERM like any other.
  const alive = setInterval(() => undefined, 1 << 30);
  return await new Promise<number>((resolve) => {
    process.on("SIGHUP", () => {
      try {
        daemon.reload(loadConfig(configPath));
      } catch (e) {
        const problems = e instanceof ConfigError ? e.problems : [String(e)];
        log.error({ problems }, "reload failed: keeping the running configuration");
      }
    });
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, "shutting down: Cease / Administrative Shutdown to every peer");
      clearInterval(alive);
      daemon.stop().then(
        () => resolve(0),
        (e: unknown) => {
          log.error({ error: String(e) }, "shutdown failed");
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}

const program = new Command("trellis-bgp")
  .description("Trellis BGP-4 speaker")
  .version(version, "-V, --version")
  .option("--config <file>", "YAML or JSON configuration (see bgp/README.md)")
  .option("--log-level <level>", "trace|debug|info|warn|error", "info")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride()
  .action(async (opts: { config?: string; logLevel: string }) => {
    process.exitCode = await main(opts);
  });

await runDaemonProgram("trellis-bgp", program);
// Sockets and timers are closed by now; do not wait for stragglers.
if (process.exitCode !== undefined) setTimeout(() => process.exit(), 200).unref();
