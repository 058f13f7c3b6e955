/**
 * A watch on one collection of the lab API server that records, on the
 * bench's clock (`clockMs`), when each object first showed a value of interest (a pod's
 * IPv4 address, a block's CIDR). Waiting on a watch instead of polling keeps
 * the API server as idle as a real kubelet's watch would, and the time is
 * that of the event's arrival.
 */
import { clockMs } from "./probe-verdict.js";

interface WatchEvent {
  type: string;
  object: { metadata?: { name?: string; resourceVersion?: string } } & Record<string, unknown>;
}

export class WatchTimes {
  private readonly seen = new Map<string, { value: string; at: number }>();
  private readonly waiters = new Map<string, (v: { value: string; at: number }) => void>();
  private readonly abort = new AbortController();
  private resourceVersion: string | undefined;
  private closed = false;

  /**
   * @param path the collection (`/api/v1/namespaces/NS/pods`)
   * @param valueOf the value an object shows, or undefined while it has none
   */
  private constructor(
    private readonly baseUrl: string,
    private readonly path: string,
    private readonly valueOf: (o: WatchEvent["object"]) => string | undefined,
  ) {}

  /** Resolves once the watch is open (events from then on are seen). */
  static async open(
    baseUrl: string,
    path: string,
    valueOf: (o: WatchEvent["object"]) => string | undefined,
  ): Promise<WatchTimes> {
    const w = new WatchTimes(baseUrl, path, valueOf);
    await w.connect();
    return w;
  }

  private async connect(): Promise<void> {
    const rv = this.resourceVersion !== undefined ? `&resourceVersion=${this.resourceVersion}` : "";
    const res = await fetch(`${this.baseUrl}${this.path}?watch=true${rv}`, { signal: this.abort.signal });
    if (!res.ok || res.body === null) throw new Error(`watch ${this.path}: HTTP ${res.status}`);
    void this.read(res.body);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of body) {
        buf += dec.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line !== "") this.event(JSON.parse(line) as WatchEvent);
        }
      }
    } catch {
      // aborted by close(), or the connection broke: reconnected below unless closed
    }
    // The server may end a watch at any time (its timeout); resume from the last version.
    if (!this.closed) await this.connect().catch(() => undefined);
  }

  private event(e: WatchEvent): void {
    const at = clockMs();
    this.resourceVersion = e.object.metadata?.resourceVersion ?? this.resourceVersion;
    const name = e.object.metadata?.name;
    if (name === undefined || e.type === "DELETED" || e.type === "ERROR") {
      if (name !== undefined) this.seen.delete(name);
      return;
    }
    const value = this.valueOf(e.object);
    if (value === undefined || this.seen.has(name)) return;
    const v = { value, at };
    this.seen.set(name, v);
    this.waiters.get(name)?.(v);
    this.waiters.delete(name);
  }

  /** The first value `name` showed and when; rejects after `timeoutMs`. */
  when(name: string, timeoutMs: number): Promise<{ value: string; at: number }> {
    const have = this.seen.get(name);
    if (have !== undefined) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.delete(name);
        reject(new Error(`watch ${this.path}: ${name} showed nothing within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(name, (v) => {
        clearTimeout(t);
        resolve(v);
      });
    });
  }

  /** Every value seen so far, with its time. */
  all(): Map<string, { value: string; at: number }> {
    return new Map(this.seen);
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
  }
}

/** A pod's IPv4 address from its status, once it has one. */
export function podIPv4(o: Record<string, unknown>): string | undefined {
  const st = o["status"] as { podIPs?: { ip: string }[] } | undefined;
  return (st?.podIPs ?? []).map((x) => x.ip).find((ip) => !ip.includes(":"));
}

/** An IPAMBlock's CIDR. */
export function blockCidr(o: Record<string, unknown>): string | undefined {
  return (o["spec"] as { cidr?: string } | undefined)?.cidr;
}
