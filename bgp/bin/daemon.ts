/**
 * trellis-bgp as a long-running process: a Speaker built from the config
 * file, the kernel FIB, the control socket, and reloads (SIGHUP) applied as a
 * diff so that untouched sessions stay up.
 */
import { readFileSync } from "node:fs";
import { ConfigError, parseConfig, type SpeakerConfigFile } from "../config.js";
import type { Logger } from "pino";
import type { Speaker } from "../speaker.js";
import { ControlServer } from "../control/server.js";
import type { FibDriver, KernelFib } from "../fib/index.js";
import { SpeakerHost } from "../speaker-host.js";
import type { MetricsServer } from "../../net/metrics.js";
import { isAddressError } from "../../net/listen-address.js";

export function loadConfig(path: string): SpeakerConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError([`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`]);
  }
  return parseConfig(text);
}

export class Daemon {
  private constructor(
    private readonly host: SpeakerHost,
    private readonly control: ControlServer | undefined,
    private readonly log: Logger,
    private readonly metrics: MetricsServer | null,
  ) {}

  /** The bound /metrics port (port 0 in the file picks one), if metrics are served. */
  get speaker(): Speaker {
    return this.host.speaker;
  }

  get metricsPort(): number | undefined {
    return this.metrics?.port;
  }

  static async start(cfg: SpeakerConfigFile, log: Logger): Promise<Daemon> {
    // The metrics modules only when /metrics is served (metricsAddress "", the
    // default, serves none, and nothing else reads the families): prom-client
    // and its default metrics were 2-3 MB of the daemon's resident memory
    // (issue 12, RSS at 100k prefixes; see test/bench/bgp/README.md).
    const mods =
      cfg.metricsAddress === ""
        ? undefined
        : { net: await import("../../net/metrics.js"), bgp: await import("../metrics.js") };
    // The process's one registry; families are read at scrape time.
    const m = mods && { ...mods, registry: mods.net.createRegistry() };
    let kernel: KernelFib | undefined;
    // Read at scrape time only, once `kernel` exists.
    const latency =
      m && cfg.fib.enabled ? m.bgp.registerFibMetrics(m.registry, () => kernel!.getStats()) : undefined;
    const host = await SpeakerHost.create(cfg, {
      log,
      ...(m && latency ? { wrapDriver: (d: FibDriver) => m.bgp.timedFibDriver(d, latency) } : {}),
      onKernel: (k) => (kernel = k),
    });
    const speaker = host.speaker;
    if (m) m.bgp.registerSpeakerMetrics(m.registry, speaker);
    const fib = { close: () => host.abandon() };
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
    const metrics = m ? await m.net.serveMetrics(m.registry, cfg.metricsAddress) : null;
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
    return new Daemon(host, control, log, metrics);
  }

  /** SIGHUP: apply the new file as a diff. A bad file keeps the running config. */
  reload(next: SpeakerConfigFile): void {
    const d = this.host.apply(next);
    if (d.restartNeeded.length) {
      this.log.warn(
        { fields: d.restartNeeded },
        "these settings change only on restart; the rest is applied",
      );
    }
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
    await this.host.stop();
    await this.control?.close();
    await this.metrics?.close();
  }
}
