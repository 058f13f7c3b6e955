/**
 * The kubelet stand-in's retry policy for watch restarts and API retries:
 * 500 ms doubling to 30 s, no jitter (one kubelet per lab node). The curve
 * itself is net/backoff.ts.
 */
import type { BackoffOptions } from "../../net/backoff.js";

export const KUBELET_BACKOFF: BackoffOptions = { minMs: 500, maxMs: 30_000, jitter: 0 };
