#!/usr/bin/env node
// trellis-bgp: the BGP speaker alone, from a config file.
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";

const version = (
  JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

const program = new Command("trellis-bgp")
  .description("Trellis BGP-4 speaker")
  .version(version, "-V, --version")
  .option("--config <file>", "YAML or JSON configuration (see bgp/README.md)")
  .option("--log-level <level>", "trace|debug|info|warn|error", "info")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride()
  .action(() => {
    process.stderr.write("trellis-bgp: the speaker is not part of this build yet\n");
    process.exitCode = 1;
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`trellis-bgp: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
