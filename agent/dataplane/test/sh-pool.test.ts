import { describe, it, expect, afterAll } from "@jest/globals";
import { ShPool, shQuote, withStdin } from "../sh-pool.js";

describe("ShPool: short scripts in long-lived shells", () => {
  const pool = new ShPool(2);
  afterAll(() => pool.close());

  it("returns a job's output and exit status", async () => {
    expect(await pool.run("echo one; echo two")).toEqual({ code: 0, output: "one\ntwo" });
    expect(await pool.run("echo oops >&2; exit_with() { return $1; }; exit_with 3")).toEqual({
      code: 3,
      output: "oops",
    });
  });

  it("keeps a last output line without a newline apart from the status", async () => {
    expect(await pool.run("printf %s partial")).toEqual({ code: 0, output: "partial" });
  });

  it("feeds a here-document to a command, nothing expanded", async () => {
    const r = await pool.run(withStdin("cat", ["a $HOME", "b 'q'"]));
    expect(r).toEqual({ code: 0, output: "a $HOME\nb 'q'" });
  });

  it("runs jobs concurrently, each answered with its own output", async () => {
    const jobs = Array.from({ length: 20 }, (_, i) => pool.run(`echo ${shQuote(`job ${i}`)}`));
    expect((await Promise.all(jobs)).map((r) => r.output)).toEqual(
      Array.from({ length: 20 }, (_, i) => `job ${i}`),
    );
  });
});
