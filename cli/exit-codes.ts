/**
 * Exit codes that scripts can rely on. Stable: add, never renumber.
 *   0  success
 *   1  the operation ran and failed (unreachable agent, a probe that did not connect, …)
 *   2  usage error: unknown command, bad flag or flag value
 *   3  the thing asked about does not exist (no lab, no such pod, …)
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_NOT_FOUND = 3;

/** An error meant for the user: printed as one line, never with a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** The message of an error as a user reads it after "…: " (no stack, no class name). */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
