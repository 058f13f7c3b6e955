#!/usr/bin/env node
// trellis-node: the per-node agent. Flags are pinned by docs/architecture.md; everything
// else comes from --config FILE and TRELLIS_* env (agent/config.ts).
// Exit codes: 0 clean shutdown, 1 runtime failure, 2 bad flags or config.
import { Command } from "commander";
import { pino } from "pino";
import { packageVersion, runDaemonProgram } from "../../net/daemon-cli.js";
import { ConfigError, type ConfigFlags, loadConfig } from "../config.js";
import { NodeAgent } from "../node-agent.js";
import { SocketPathError } from "../cni-server/server.js";

const version = packageVersion();

async function run(flags: ConfigFlags): Promise<void> {
  let cfg;
  try {
    cfg = loadConfig(flags, process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`trellis-node: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
  // Logs go to stderr as JSON lines (never stdout: nothing of the CNI path may print there).
  const log = pino({ level: cfg.logLevel, base: { node: cfg.nodeName } }, pino.destination(2));
  let agent: NodeAgent;
  try {
    agent = new NodeAgent(cfg, log);
  } catch (e) {
    process.stderr.write(`trellis-node: kubeconfig: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
    return;
  }
  let stopping = false;
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(
      { signal: sig },
      "shutting down; pods keep their network, graceful-restart peers keep its routes",
    );
    agent
      .stop({ restart: true })
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("unhandledRejection", (e) => {
    // Never die on a stray rejection: log it, keep serving pods.
    log.error({ err: e instanceof Error ? e.stack : String(e) }, "unhandled rejection");
  });
  try {
    await agent.start();
  } catch (e) {
    if (e instanceof SocketPathError) {
      await agent.stop().catch(() => undefined);
      process.stderr.write(`trellis-node: ${e.message}\n`);
      process.exit(2);
    }
    log.fatal({ err: e instanceof Error ? e.message : String(e) }, "agent failed to start");
    await agent.stop().catch(() => undefined);
    process.exit(1);
  }
}

const program = new Command("trellis-node")
  .description("Trellis per-node agent: CNI server, IPAM, routed veths, BGP and policy")
  .version(version, "-V, --version")
  .option("--node-name <name>", "this node's name (env TRELLIS_NODE_NAME, else the hostname)")
  .option("--kubeconfig <file>", "kubeconfig (env KUBECONFIG; in-cluster config when absent)")
  .option("--cni-socket <path>", "unix socket the CNI plugin talks to (default /var/run/trellis/cni.sock)")
  .option("--config <file>", "YAML or JSON file with the remaining settings")
  .option("--log-level <level>", "trace|debug|info|warn|error (default info)")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride()
  .action(async (opts: ConfigFlags) => {
    await run(opts);
  });

await runDaemonProgram("trellis-node", program);
