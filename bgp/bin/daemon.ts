/**
 * trellis-bgp as a long-running process: a Speaker built from the config
 * file, the kernel FIB, the control socket, and reloads (SIGHUP) applied as a
 * diff so that untouched sessions stay up.
 */
import { readFileSync } from "node:fs";
import {
  ConfigError,
  diffConfig,
  parseConfig,
  type PeerConfigFile,
  type SpeakerConfigFile,
} from "../config.js";
import { compileFilter } from "../policy/index.js";
import type { Logger } from "pino";
import { Speaker, type SpeakerPeerOptions } from "../speaker.js";
import { ControlServer } from "../control/server.js";
import { CEASE_ADMIN_SHUTDOWN } from "../session/fsm.js";
import { IpBatchDriver, KernelFib } from "../fib/index.js";
import type { FibSink } from "../speaker.js";
import { registerFibMetrics, registerSpeakerMetrics, timedFibDriver } from "../metrics.js";
import { type MetricsServer, createRegistry, isAddressError, serveMetrics } from "../../net/metrics.js";

export function loadConfig(path: string): SpeakerConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError([`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`]);
  }
  return parseConfig(text);
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
  if (p.bfd === true) o.bfd = { minTxMs: 300, minRxMs: 300, multiplier: 3 };
  else if (p.bfd) o.bfd = p.bfd;
  if (p.import !== undefined) o.import = compileFilter(p.import, { localAs: cfg.asn });
  if (p.export !== undefined) o.export = compileFilter(p.export, { localAs: cfg.asn });
  return o;
}

export class Daemon {
  private constructor(
    private cfg: SpeakerConfigFile,
    readonly speaker: Speaker,
    private readonly control: ControlServer | undefined,
    private readonly log: Logger,
    private readonly metrics: MetricsServer | null,
  ) {}

  /** The bound /metrics port (port 0 in the file picks one), if metrics are served. */
  get metricsPort(): number | undefined {
    return this.metrics?.port;
  }

  static async start(cfg: SpeakerConfigFile, log: Logger): Promise<Daemon> {
    let fib: FibSink | undefined;
    let restarting = false;
    // The process's one registry; families are read at scrape time.
    const registry = createRegistry();
    if (cfg.fib.enabled) {
      const driverOpts: ConstructorParameters<typeof IpBatchDriver>[0] = {
        table: cfg.fib.table,
        proto: cfg.fib.protocol,
      };
      if (cfg.fib.netns) driverOpts.netns = cfg.fib.netns;
      // Read at scrape time only, once `kernel` exists.
      const latency = registerFibMetrics(registry, () => kernel.getStats());
      const kernel = new KernelFib(timedFibDriver(new IpBatchDriver(driverOpts), latency), {
        ecmp: cfg.fib.ecmp,
        onError: (f) =>
          log.error({ failures: f instanceof Error ? f.message : f.length }, "kernel routes out of sync"),
      });
      await kernel.start();
      const left = kernel.getStats().installed;
      // Our routes still in the kernel: an earlier run ended without cleaning up,
      // so we are a restarting speaker that preserved forwarding (RFC 4724 §4.1).
      restarting = left > 0 && cfg.gracefulRestart.enabled;
      if (left > 0)
        log.info({ routes: left, restarting }, "kernel routes of an earlier run kept until End-of-RIB");
      fib = {
        apply: (changes) => kernel.update(changes),
        markSynced: () => {
          kernel.markSynced().catch((e: unknown) => log.error({ error: String(e) }, "FIB sweep failed"));
        },
        close: () => kernel.close(),
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
    registerSpeakerMetrics(registry, speaker);
    for (const p of cfg.peers) speaker.addPeer(peerOptions(cfg, p));
    for (const o of cfg.originate) speaker.originate(o.prefix, originOptions(o));
    let control: ControlServer | undefined;
    if (cfg.control) {
      try {
        control = await ControlServer.listen(cfg.control.socket, (method) =>
          method === "peers" ? speaker.peerStatus() : speaker.routeStatus(),
        );
      } catch (e) {
        // A socket path we cannot use is a configuration error (exit 2), named by its field.
        await fib?.close();
        throw new ConfigError([`control.socket: ${e instanceof Error ? e.message : String(e)}`]);
      }
    }
    const metrics = await serveMetrics(registry, cfg.metricsAddress);
    if (isAddressError(metrics)) {
      // Busy or absent address: a configuration error (exit 2), named by its field.
      await control?.close();
      await fib?.close();
      throw new ConfigError([`metricsAddress: ${metrics.message}`]);
    }
    await speaker.start();
    log.info(
      {
        asn: cfg.asn,
        routerId: cfg.routerId,
        peers: cfg.peers.length,
        listenPort: speaker.listenPort,
        metricsPort: metrics?.port,
      },
      "trellis-bgp started",
    );
    return new Daemon(cfg, speaker, control, log, metrics);
  }

  /** SIGHUP: apply the new file as a diff. A bad file keeps the running config. */
  reload(next: SpeakerConfigFile): void {
    const d = diffConfig(this.cfg, next);
    if (d.restartNeeded.length) {
      this.log.warn(
        { fields: d.restartNeeded },
        "these settings change only on restart; the rest is applied",
      );
    }
    for (const a of d.removePeers) this.speaker.removePeer(a);
    for (const p of d.changePeers) this.speaker.updatePeer(peerOptions(next, p));
    for (const p of d.addPeers) this.speaker.addPeer(peerOptions(next, p));
    for (const w of d.withdraw) this.speaker.withdraw(w);
    for (const o of d.originate) this.speaker.originate(o.prefix, originOptions(o));
    this.cfg = next;
    this.log.info(
      {
        added: d.addPeers.length,
        removed: d.removePeers.length,
        changed: d.changePeers.length,
        originated: d.originate.length,
        withdrawn: d.withdraw.length,
      },
      "configuration reloaded",
    );
  }

  /** SIGTERM: Cease / Administrative Shutdown to every peer, then close. */
  async stop(): Promise<void> {
    await this.speaker.stop(CEASE_ADMIN_SHUTDOWN);
    await this.control?.close();
    await this.metrics?.close();
  }
}

function originOptions(o: SpeakerConfigFile["originate"][number]): Parameters<Speaker["originate"]>[1] {
  const r: NonNullable<Parameters<Speaker["originate"]>[1]> = {
    communities: o.communities,
    largeCommunities: o.largeCommunities,
  };
  if (o.localPref !== undefined) r.localPref = o.localPref;
  if (o.med !== undefined) r.med = o.med;
  return r;
}
