/**
 * The metrics ground floor: one prom-client Registry per process (with the
 * default process and Node.js metrics), helpers that put counters, gauges
 * and histograms on it, and the tiny HTTP server that serves `/metrics`.
 *
 * Components get the registry injected (they never reach for a global), so
 * tests can run several in one process and read their numbers back. Numbers a
 * component already keeps (session counters, RIB sizes) are read at scrape
 * time through `collect`, never copied on every change.
 *
 * Addresses are `HOST:PORT` with an IPv4 address, a bracketed IPv6 address
 * (`[::]:9179`) or a host name; `""` disables the server. A bad address is
 * returned as an error value with a stable code, never thrown.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

import { type MetricsAddressError, isAddressError, parseListenAddress } from "./listen-address.js";

export type { Counter, Gauge, Histogram, Registry } from "prom-client";
export type { ListenAddress, MetricsAddressError } from "./listen-address.js";
export { isAddressError, parseListenAddress } from "./listen-address.js";

/** Label values by label name. */
export type Labels = Record<string, string | number>;

/**
 * A new registry. `defaultMetrics` (process CPU, memory, file descriptors,
 * event loop lag, GC) is on for the one registry a process serves; components
 * built without a registry (unit tests) get one without them.
 */
export function createRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

interface FamilyConfig {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

/** prom-client's options for a family registered in `registry`. */
function familyOptions(registry: Registry, c: FamilyConfig) {
  return { name: c.name, help: c.help, labelNames: c.labelNames ?? [], registers: [registry] };
}

export function counter(registry: Registry, c: FamilyConfig): Counter {
  return new Counter(familyOptions(registry, c));
}

export function gauge(registry: Registry, c: FamilyConfig): Gauge {
  return new Gauge(familyOptions(registry, c));
}

export function histogram(registry: Registry, c: FamilyConfig & { buckets: readonly number[] }): Histogram {
  return new Histogram({ ...familyOptions(registry, c), buckets: [...c.buckets] });
}

/** One sample of a family read at scrape time. */
export type Sample = readonly [labels: Labels, value: number];

/**
 * prom-client's options for a family whose samples are read at scrape time:
 * `read` gives one unlabelled value or samples with their labels, the family
 * is reset (label sets no longer read disappear) and each sample is written
 * back through `write` (a gauge sets, a counter adds to zero).
 */
function scrapedFamily<M extends Gauge | Counter>(
  registry: Registry,
  c: FamilyConfig,
  read: () => Iterable<Sample> | number,
  write: (metric: M, value: number, labels?: Labels) => void,
) {
  return {
    ...familyOptions(registry, c),
    collect(this: M) {
      const v = read();
      this.reset();
      if (typeof v === "number") write(this, v);
      else for (const [labels, value] of v) write(this, value, labels);
    },
  };
}

/**
 * A gauge whose samples are read from the component at scrape time: label
 * sets that are no longer read (a removed peer) disappear from the output.
 */
export function gaugeFrom(registry: Registry, c: FamilyConfig, read: () => Iterable<Sample> | number): Gauge {
  return new Gauge(
    scrapedFamily<Gauge>(registry, c, read, (g, value, labels) =>
      labels === undefined ? g.set(value) : g.set(labels, value),
    ),
  );
}

/**
 * A counter whose samples are read from a monotonic number the component
 * already keeps (e.g. UPDATE messages a session received). When the source
 * restarts from zero (a peer re-created) Prometheus sees a counter reset, as
 * it would after a process restart.
 */
export function counterFrom(
  registry: Registry,
  c: FamilyConfig,
  read: () => Iterable<Sample> | number,
): Counter {
  return new Counter(
    scrapedFamily<Counter>(registry, c, read, (m, value, labels) =>
      labels === undefined ? m.inc(value) : m.inc(labels, value),
    ),
  );
}

// ---- the HTTP server ------------------------------------------------------

/** Extra paths a process serves beside /metrics (e.g. /healthz, /readyz). */
export type ExtraRoute = () => { status: number; body: string };

export interface MetricsServer {
  server: Server;
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * Serve `GET /metrics` from the registry (content type from the registry)
 * and any `routes` on `address`. Resolves to null when the address is `""`,
 * to an error value for a bad address or one that cannot be bound
 * (EADDRINUSE, EADDRNOTAVAIL, EACCES).
 */
export async function serveMetrics(
  registry: Registry,
  address: string,
  routes: Readonly<Record<string, ExtraRoute>> = {},
): Promise<MetricsServer | null | MetricsAddressError> {
  const where = parseListenAddress(address);
  if (where === null || isAddressError(where)) return where;
  const server = createServer((req, res) => {
    handle(registry, routes, req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`metrics collection failed: ${e instanceof Error ? e.message : String(e)}\n`);
    });
  });
  const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    server.once("error", resolve);
    server.listen(where.port, where.host, () => {
      server.off("error", resolve);
      resolve(undefined);
    });
  });
  if (err) {
    return {
      code: "TRELLIS_EMETRICSADDR",
      message: `${JSON.stringify(address)}: cannot listen: ${err.code ?? err.message}`,
    };
  }
  const a = server.address();
  return {
    server,
    port: typeof a === "object" && a !== null ? a.port : where.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  registry: Registry,
  routes: Readonly<Record<string, ExtraRoute>>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" }).end("method not allowed\n");
    return;
  }
  if (path === "/metrics") {
    const body = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType }).end(req.method === "HEAD" ? "" : body);
    return;
  }
  const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
  if (route === undefined) {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    return;
  }
  const r = route();
  res.writeHead(r.status, { "content-type": "text/plain" }).end(r.body);
}
