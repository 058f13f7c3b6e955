/**
 * What the daemons' executables (`trellis-node`, `trellis-bgp`) share around
 * their commander program: the package version, and running the program with
 * their exit codes — 0 for --help/--version, 2 for a usage error (commander has
 * printed it), 1 for anything else, printed as `<name>: <message>`.
 */
import { readFileSync } from "node:fs";
import { type Command, CommanderError } from "commander";

/** The version in the repository's package.json (read from dist/net/). */
export function packageVersion(): string {
  return (
    JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    }
  ).version;
}

/** Parses process.argv with `program` and sets process.exitCode as the header says; never throws. */
export async function runDaemonProgram(name: string, program: Command): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
    } else {
      process.stderr.write(`${name}: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  }
}
