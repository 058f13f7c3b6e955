/**
 * Polls `f` until it gives a value (anything but undefined or false), for
 * tests that wait on a process, the kernel or an API server to catch up.
 * An exception from `f` counts as "not yet" (a daemon still starting, a
 * command that fails until it does not); the last one is named in the
 * timeout error, "timed out after N ms waiting for <what>: <error>".
 */
export async function until<T>(
  what: string,
  f: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
  stepMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last !== undefined ? `: ${String(last)}` : ""}`,
      );
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * `observe` run up to `attempts` times, `stepMs` apart, until `settled`
 * holds of what it saw; the last observation either way, with the number of
 * rounds. For checks that assert every detail of what they last saw (a
 * reachability table), where until's timeout error would hide it.
 */
export async function lastObservation<T>(
  observe: () => Promise<T>,
  settled: (v: T) => boolean,
  attempts: number,
  stepMs: number,
): Promise<{ value: T; rounds: number }> {
  for (let round = 1; ; round++) {
    const value = await observe();
    if (settled(value) || round >= attempts) return { value, rounds: round };
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
