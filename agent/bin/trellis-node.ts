#!/usr/bin/env node
// trellis-node: the per-node agent. Flags are pinned by DESIGN.md.
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";

const version = (
  JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

const program = new Command("trellis-node")
  .description("Trellis per-node agent: CNI server, IPAM, routed veths, BGP and policy")
  .version(version, "-V, --version")
  .option("--node-name <name>", "this node's name (env TRELLIS_NODE_NAME, else the hostname)")
  .option("--kubeconfig <file>", "kubeconfig (env KUBECONFIG; in-cluster config when absent)")
  .option("--cni-socket <path>", "unix socket the CNI plugin talks to", "/var/run/trellis/cni.sock")
  .option("--config <file>", "YAML or JSON file with the remaining settings")
  .option("--log-level <level>", "trace|debug|info|warn|error", "info")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride()
  .action(() => {
    process.stderr.write("trellis-node: the agent is not part of this build yet\n");
    process.exitCode = 1;
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`trellis-node: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
