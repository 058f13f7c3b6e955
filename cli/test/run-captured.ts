/**
 * trellisctl run in-process for tests: the exit code and everything it
 * printed on its two streams.
 */
import { runCli } from "../program.js";

export async function runCaptured(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}
