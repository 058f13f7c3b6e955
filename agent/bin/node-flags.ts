/**
 * How every launcher starts trellis-node's Node.js (the image's wrapper,
 * scripts/build-image; `lab up`; the tests' harness): the V8 flags and the
 * environment that keep the agent's RSS in its budget (issue 12: ≤ 100 MiB
 * with 1,000 pods; agent/README.md "Memory" has the measurements).
 *
 * - `--optimize-for-size`: V8 grows the heap less eagerly and collects
 *   sooner; the agent's work is small and bursty (a CNI ADD, a watch event),
 *   so a denser heap costs no measurable latency and saves tens of MiB of
 *   garbage that would otherwise sit in old space between collections.
 * - `MALLOC_ARENA_MAX=2`: glibc gives each thread that mallocs its own arena
 *   (up to 8 per core), and V8's and libuv's worker threads each keep one;
 *   two arenas are enough for a process whose JavaScript runs on one thread
 *   (glibc mallopt(3), M_ARENA_MAX).
 *
 * Flags cannot be set from inside the entry: V8 sizes its heap when the
 * isolate is created, before the first line of JavaScript runs.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ["--optimize-for-size"];

export const AGENT_NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };
