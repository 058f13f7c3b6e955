/**
 * The trellisctl command tree. Each command module registers its own
 * subcommands; this file only wires them together and decides exit codes.
 */
import { Command, CommanderError } from "commander";
import { CliError, errorText, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { packageVersion } from "./version.js";
import { registerLab } from "./commands/lab.js";
import { registerBgp } from "./commands/bgp.js";
import { registerIpam } from "./commands/ipam.js";
import { registerPolicy } from "./commands/policy.js";
import { registerStatus } from "./commands/status.js";

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export function buildProgram(io: Io): Command {
  const program = new Command("trellisctl")
    .description("Operate Trellis: status, BGP, IPAM, policy and the local lab")
    .version(packageVersion(), "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  // Subcommands inherit exitOverride/configureOutput because they are created
  // through program.command() below (commander copies inherited settings).
  registerStatus(program, io);
  registerLab(program, io);
  registerBgp(program, io);
  registerIpam(program, io);
  registerPolicy(program, io);
  return program;
}

/** Runs trellisctl and returns the process exit code (never throws). */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" ||
        e.code === "commander.version" ||
        e.code === "commander.help"
      ) {
        return EXIT_OK;
      }
      // Usage errors: commander already printed the message and the hint.
      return EXIT_USAGE;
    }
    if (e instanceof CliError) {
      io.err(`error: ${e.message}\n`);
      return e.exitCode;
    }
    io.err(`error: ${errorText(e)}\n`);
    return EXIT_FAILURE;
  }
}
