/** Durations on the command line: `1s`, `500ms`, `1.5s`, `2m`, or bare seconds. Pure. */
export function parseDurationMs(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim());
  if (m === null) throw new RangeError(`invalid duration "${s}": expected e.g. 1s, 500ms, 2m`);
  const n = Number(m[1]);
  const ms = m[2] === "ms" ? n : m[2] === "m" ? n * 60_000 : n * 1000;
  if (ms <= 0 || ms > 600_000) throw new RangeError(`duration "${s}" out of range (0, 10m]`);
  return Math.round(ms);
}
