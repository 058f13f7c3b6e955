/**
 * A Speaker built from a `SpeakerConfigFile` (bgp/config.ts), with its kernel
 * FIB, and the one way to change it while it runs: `apply(next)` computes the
 * `ConfigDiff` and applies it (peers added, removed, changed in place or reset;
 * origins announced or withdrawn), so untouched sessions stay up. Used by the
 * `trellis-bgp` daemon on SIGHUP and by trellis-node on every change of the
 * cluster's BGP objects.
 */
import { diffConfig, type ConfigDiff, type PeerConfigFile, type SpeakerConfigFile } from "./config.js";
import { compileFilter } from "./policy/index.js";
import type { Logger } from "pino";
import { Speaker, type FibSink, type SpeakerPeerOptions } from "./speaker.js";
import { CEASE_ADMIN_SHUTDOWN } from "./wire/errors.js";
import { NetlinkFibDriver, KernelFib, type FibDriver, type FibChangeIn } from "./fib/index.js";

export interface SpeakerHostOptions {
  log: Logger;
  /** Wrap the kernel driver (the daemon times it for its metrics). */
  wrapDriver?: (d: FibDriver) => FibDriver;
  /** Called once the kernel FIB exists (metrics read its stats). */
  onKernel?: (k: KernelFib) => void;
  /** Rewrite Loc-RIB changes before they reach the kernel (e.g. recursive next-hop resolution). */
  mapFibChanges?: (changes: readonly FibChangeIn[]) => FibChangeIn[];
  /** A FIB driver of the caller's (tests: FakeFibDriver); default rtnetlink (NetlinkFibDriver). */
  driver?: FibDriver;
}

export function peerOptions(cfg: SpeakerConfigFile, p: PeerConfigFile): SpeakerPeerOptions {
  const o: SpeakerPeerOptions = {
    address: p.address,
    asn: p.asn,
    port: p.port,
    passive: p.passive,
    families: p.families,
    routeReflectorClient: p.routeReflectorClient,
    nextHopSelf: p.nextHopSelf,
  };
  if (p.localAddress) o.localAddress = p.localAddress;
  if (p.holdTime !== undefined) o.holdTime = p.holdTime;
  if (p.keepaliveTime !== undefined) o.keepaliveTime = p.keepaliveTime;
  if (p.connectRetryTime !== undefined) o.connectRetryTime = p.connectRetryTime;
  if (p.delayOpenTime !== undefined) o.delayOpenTime = p.delayOpenTime;
  if (p.maxPrefixes !== undefined) o.maxPrefixes = p.maxPrefixes;
  if (p.password !== undefined) o.password = p.password;
  if (p.ttlSecurity !== undefined) o.ttlSecurity = p.ttlSecurity;
  if (p.maxRestartTime !== undefined) o.maxRestartTime = p.maxRestartTime;
  if (p.bfd === true) o.bfd = { minTxMs: 300, minRxMs: 300, multiplier: 3 };
  else if (p.bfd) o.bfd = p.bfd;
  if (p.import !== undefined) o.import = compileFilter(p.import, { localAs: cfg.asn });
  if (p.export !== undefined) o.export = compileFilter(p.export, { localAs: cfg.asn });
  return o;
}

export function originOptions(
  o: SpeakerConfigFile["originate"][number],
): Parameters<Speaker["originate"]>[1] {
  const r: NonNullable<Parameters<Speaker["originate"]>[1]> = {
    communities: o.communities,
    largeCommunities: o.largeCommunities,
  };
  if (o.localPref !== undefined) r.localPref = o.localPref;
  if (o.med !== undefined) r.med = o.med;
  return r;
}

export class SpeakerHost {
  private constructor(
    private cfg: SpeakerConfigFile,
    readonly speaker: Speaker,
    readonly kernel: KernelFib | undefined,
    /** Our routes found in the kernel at start: we are restarting (RFC 4724 §4.1). */
    readonly restarting: boolean,
  ) {}

  get config(): SpeakerConfigFile {
    return this.cfg;
  }

  /**
   * Builds the FIB (reading back routes an earlier run left) and the Speaker
   * with its peers and origins. The speaker is not started: call start().
   */
  static async create(cfg: SpeakerConfigFile, o: SpeakerHostOptions): Promise<SpeakerHost> {
    const log = o.log;
    let fib: FibSink | undefined;
    let kernel: KernelFib | undefined;
    let restarting = false;
    if (cfg.fib.enabled) {
      const driverOpts: ConstructorParameters<typeof NetlinkFibDriver>[0] = {
        table: cfg.fib.table,
        proto: cfg.fib.protocol,
      };
      if (cfg.fib.netns) driverOpts.netns = cfg.fib.netns;
      const base = o.driver ?? new NetlinkFibDriver(driverOpts);
      const k = new KernelFib(o.wrapDriver ? o.wrapDriver(base) : base, {
        ecmp: cfg.fib.ecmp,
        onError: (f) =>
          log.error(
            f instanceof Error
              ? { failures: f.message }
              : { failures: f.length, routes: f.slice(0, 20).map((x) => x.error) },
            "kernel routes out of sync",
          ),
      });
      kernel = k;
      o.onKernel?.(k);
      await k.start();
      const left = k.getStats().installed;
      // Our routes still in the kernel: an earlier run ended without cleaning up,
      // so we are a restarting speaker that preserved forwarding (RFC 4724 §4.1).
      restarting = left > 0 && cfg.gracefulRestart.enabled;
      if (left > 0)
        log.info({ routes: left, restarting }, "kernel routes of an earlier run kept until End-of-RIB");
      const map = o.mapFibChanges;
      fib = {
        apply: (changes) => k.update(map ? map(changes) : changes),
        markSynced: () => {
          k.markSynced().catch((e: unknown) => log.error({ error: String(e) }, "FIB sweep failed"));
        },
        close: () => k.close(),
      };
    }
    const speakerOpts: ConstructorParameters<typeof Speaker>[0] = {
      asn: cfg.asn,
      routerId: cfg.routerId,
      holdTime: cfg.holdTime,
      connectRetryTime: cfg.connectRetryTime,
      gracefulRestart: {
        enabled: cfg.gracefulRestart.enabled,
        restartTime: cfg.gracefulRestart.restartTime,
        restarting,
        selectionDeferralTime: cfg.gracefulRestart.selectionDeferralTime,
      },
      maxPaths: cfg.fib.ecmp ? 8 : 1,
      logger: log,
    };
    if (cfg.clusterId) speakerOpts.clusterId = cfg.clusterId;
    if (cfg.restartBackoff) {
      const { initialMs, maxMs, jitter } = cfg.restartBackoff;
      speakerOpts.backoff = { minMs: initialMs, maxMs, jitter };
    }
    if (cfg.keepaliveTime !== undefined) speakerOpts.keepaliveTime = cfg.keepaliveTime;
    if (cfg.listen) speakerOpts.listen = cfg.listen;
    if (fib) speakerOpts.fib = fib;
    const speaker = new Speaker(speakerOpts);
    for (const p of cfg.peers) speaker.addPeer(peerOptions(cfg, p));
    for (const og of cfg.originate) speaker.originate(og.prefix, originOptions(og));
    return new SpeakerHost(cfg, speaker, kernel, restarting);
  }

  /** Closes the FIB without starting (a start-up step after create() failed). */
  async abandon(): Promise<void> {
    await this.kernel?.close();
  }

  start(): Promise<void> {
    return this.speaker.start();
  }

  /**
   * Applies a new configuration as a diff. Settings that need a new speaker
   * (asn, routerId, clusterId, listen, fib, control, metricsAddress) are
   * reported in `restartNeeded` and not applied.
   */
  apply(next: SpeakerConfigFile): ConfigDiff {
    const d = diffConfig(this.cfg, next);
    for (const a of d.removePeers) this.speaker.removePeer(a);
    for (const p of d.changePeers) this.speaker.updatePeer(peerOptions(next, p));
    for (const p of d.addPeers) this.speaker.addPeer(peerOptions(next, p));
    for (const w of d.withdraw) this.speaker.withdraw(w);
    for (const o of d.originate) this.speaker.originate(o.prefix, originOptions(o));
    this.cfg = next;
    return d;
  }

  /**
   * Cease / Administrative Shutdown to every peer, then the FIB closes (our
   * routes stay). With `restart`, peers that negotiated graceful restart get
   * no NOTIFICATION and keep our routes until we are back (Speaker.stop).
   */
  stop(o: { restart?: boolean } = {}): Promise<void> {
    return this.speaker.stop(CEASE_ADMIN_SHUTDOWN, o);
  }
}
