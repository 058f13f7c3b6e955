/**
 * Jobs run with a bound on how many are in flight: the lab's probes and its
 * reads of containerd start a process each, and a lab machine has few cores.
 */

/** Runs the jobs with at most `limit` in flight; results in job order. */
export async function boundedAll<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const job = jobs[i];
      if (job === undefined) return;
      out[i] = await job();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, jobs.length)) }, worker));
  return out;
}
