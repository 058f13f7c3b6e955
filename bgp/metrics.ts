/**
 * trellis-bgp's Prometheus families: a shell over the speaker's read-only
 * views (peerStatus) and the kernel FIB's stats, read at scrape time onto a
 * prom-client registry (net/metrics.ts). Nothing below bgp/bin imports this
 * file: wire, session, RIB and FIB stay free of metrics code.
 */
import {
  type Histogram,
  type Registry,
  type Sample,
  counterFrom,
  gaugeFrom,
  histogram,
} from "../net/metrics.js";
import type { PeerStatus } from "./control/protocol.js";
import type { FibDriver } from "./fib/driver.js";
import type { KernelFibStats } from "./fib/kernel-fib.js";
import type { FsmState } from "./session/fsm.js";

/** RFC 4271 §8.2.2 states, every one exported (0 or 1) so a dashboard can graph any of them. */
export const SESSION_STATES: readonly FsmState[] = [
  "Idle",
  "Connect",
  "Active",
  "OpenSent",
  "OpenConfirm",
  "Established",
];

/** Seconds for one batch of route changes to be applied to the kernel. */
export const FIB_INSTALL_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface SpeakerView {
  peerStatus(): PeerStatus[];
  /** BFD datagrams dropped, by reason (bgp/bfd/service.ts DropReason). */
  bfdDropped?(): Partial<Record<string, number>>;
}

/**
 * Reads `read` once per scrape: every family of one scrape sees the same
 * snapshot (prom-client collects them one after another in the same turn).
 */
function perScrape<T>(read: () => T): () => T {
  let cached: { v: T } | undefined;
  return () => {
    if (cached === undefined) {
      cached = { v: read() };
      setImmediate(() => (cached = undefined));
    }
    return cached.v;
  };
}

/** Sessions and per-peer counters of the speaker. */
export function registerSpeakerMetrics(registry: Registry, speaker: SpeakerView): void {
  const peers = perScrape(() => speaker.peerStatus());
  const perPeer = (v: (p: PeerStatus) => number) => (): Sample[] =>
    peers().map((p) => [{ peer: p.address }, v(p)] as const);
  gaugeFrom(
    registry,
    {
      name: "trellis_bgp_session_state",
      help: "1 for the state each configured peer's session is in (RFC 4271 §8), 0 for the others.",
      labelNames: ["peer", "state"],
    },
    () =>
      peers().flatMap((p) =>
        SESSION_STATES.map((s) => [{ peer: p.address, state: s }, p.state === s ? 1 : 0] as const),
      ),
  );
  gaugeFrom(
    registry,
    {
      name: "trellis_bgp_sessions",
      help: "Configured peers whose session is in each state.",
      labelNames: ["state"],
    },
    () => SESSION_STATES.map((s) => [{ state: s }, peers().filter((p) => p.state === s).length] as const),
  );
  gaugeFrom(
    registry,
    {
      name: "trellis_bgp_prefixes_received",
      help: "Prefixes in the peer's Adj-RIB-In, before import policy.",
      labelNames: ["peer"],
    },
    perPeer((p) => p.prefixes.received),
  );
  gaugeFrom(
    registry,
    {
      name: "trellis_bgp_prefixes_accepted",
      help: "Prefixes from the peer accepted by import policy.",
      labelNames: ["peer"],
    },
    perPeer((p) => p.prefixes.accepted),
  );
  gaugeFrom(
    registry,
    {
      name: "trellis_bgp_prefixes_advertised",
      help: "Prefixes in the peer's Adj-RIB-Out (advertised to it).",
      labelNames: ["peer"],
    },
    perPeer((p) => p.prefixes.advertised),
  );
  counterFrom(
    registry,
    {
      name: "trellis_bgp_updates_received_total",
      help: "UPDATE messages received from the peer (End-of-RIB included).",
      labelNames: ["peer"],
    },
    perPeer((p) => p.updates.received),
  );
  counterFrom(
    registry,
    {
      name: "trellis_bgp_updates_sent_total",
      help: "UPDATE messages sent to the peer (End-of-RIB included).",
      labelNames: ["peer"],
    },
    perPeer((p) => p.updates.sent),
  );
  gaugeFrom(
    registry,
    {
      name: "trellis_bgp_bfd_session_up",
      help: "1 while the peer's BFD session (RFC 5880) is Up, 0 otherwise; peers with bfd only.",
      labelNames: ["peer"],
    },
    () =>
      peers().flatMap((p) => (p.bfd ? [[{ peer: p.address }, p.bfd.state === "Up" ? 1 : 0] as const] : [])),
  );
  counterFrom(
    registry,
    {
      name: "trellis_bgp_bfd_dropped_total",
      help: "BFD datagrams dropped unread by any session: TTL not 255 (RFC 5881 §5), malformed (RFC 5880 §6.8.6), no such session.",
      labelNames: ["reason"],
    },
    () => Object.entries(speaker.bfdDropped?.() ?? {}).map(([reason, n]) => [{ reason }, n ?? 0] as const),
  );
}

/** The kernel FIB: routes installed, failures, and how long each batch took. */
export function registerFibMetrics(registry: Registry, stats: () => KernelFibStats): Histogram {
  gaugeFrom(
    registry,
    { name: "trellis_bgp_fib_routes_installed", help: "Routes this speaker has installed in the kernel." },
    () => stats().installed,
  );
  gaugeFrom(
    registry,
    { name: "trellis_bgp_fib_routes_pending", help: "Route changes waiting to be applied to the kernel." },
    () => stats().pending,
  );
  counterFrom(
    registry,
    {
      name: "trellis_bgp_fib_failures_total",
      help: "Kernel route operations that failed (then repaired or logged).",
    },
    () => stats().failures,
  );
  return histogram(registry, {
    name: "trellis_bgp_fib_install_seconds",
    help: "Time to apply one batch of route changes to the kernel.",
    buckets: FIB_INSTALL_BUCKETS,
  });
}

/** The FIB driver, timed: each apply() is one observation (the batch's latency). */
export function timedFibDriver(driver: FibDriver, latency: Histogram): FibDriver {
  return {
    list: () => driver.list(),
    apply: async (ops) => {
      const end = latency.startTimer();
      try {
        return await driver.apply(ops);
      } finally {
        end();
      }
    },
    close: () => driver.close(),
  };
}
