// net/metrics: the registry, the read-at-scrape families, the address
// parser (errors as values) and the /metrics server over real HTTP, its
// output checked by a strict exposition parser.
import { afterAll, describe, expect, it } from "@jest/globals";
import {
  type MetricsServer,
  counter,
  counterFrom,
  createRegistry,
  gaugeFrom,
  histogram,
  isAddressError,
  parseListenAddress,
  serveMetrics,
} from "../metrics.js";
import { ExpositionError, parseExposition, value } from "../prom-text.js";

describe("parseListenAddress", () => {
  it.each([
    ["127.0.0.1:9179", { host: "127.0.0.1", port: 9179 }],
    ["0.0.0.0:9179", { host: "0.0.0.0", port: 9179 }],
    ["[::]:9179", { host: "::", port: 9179 }],
    ["[fd00::1]:0", { host: "fd00::1", port: 0 }],
    [":9099", { host: "0.0.0.0", port: 9099 }],
    ["localhost:9099", { host: "localhost", port: 9099 }],
  ])("%s listens on %j", (a, want) => {
    expect(parseListenAddress(a)).toEqual(want);
  });

  it('"" disables the server', () => {
    expect(parseListenAddress("")).toBeNull();
  });

  it.each([
    ["9179", "HOST:PORT"],
    ["127.0.0.1:70000", "port must be 0..65535"],
    ["127.0.0.1:", "port must be 0..65535"],
    ["::1:9179", "in brackets"],
    ["[::1:9179", "missing ]"],
    ["[10.0.0.1]:9179", "not an IPv6 address"],
    ["10.0.0.300:9179", "not an IPv4 address"],
    ["a b:9179", "not an address or host name"],
  ])("%s is an error value naming the problem (%s)", (a, why) => {
    const r = parseListenAddress(a);
    expect(isAddressError(r)).toBe(true);
    expect(isAddressError(r) && r.code).toBe("TRELLIS_EMETRICSADDR");
    expect(isAddressError(r) && r.message).toContain(why);
  });
});

describe("families on a registry", () => {
  it("histograms are cumulative with +Inf = count, from the library", async () => {
    const reg = createRegistry({ defaultMetrics: false });
    const h = histogram(reg, { name: "t_seconds", help: "t.", labelNames: ["op"], buckets: [0.1, 1] });
    h.observe({ op: "a" }, 0.05);
    h.observe({ op: "a" }, 0.5);
    h.observe({ op: "a" }, 5);
    const fams = parseExposition(await reg.metrics());
    expect(value(fams, "t_seconds_bucket", { op: "a", le: "0.1" })).toBe(1);
    expect(value(fams, "t_seconds_bucket", { op: "a", le: "1" })).toBe(2);
    expect(value(fams, "t_seconds_bucket", { op: "a", le: "+Inf" })).toBe(3);
    expect(value(fams, "t_seconds_count", { op: "a" })).toBe(3);
    expect(value(fams, "t_seconds_sum", { op: "a" })).toBeCloseTo(5.55);
  });

  it("gaugeFrom and counterFrom read at scrape time; label sets no longer read disappear", async () => {
    const reg = createRegistry({ defaultMetrics: false });
    let peers: [string, number][] = [
      ["a", 1],
      ["b", 2],
    ];
    gaugeFrom(reg, { name: "t_prefixes", help: "p.", labelNames: ["peer"] }, () =>
      peers.map(([p, v]) => [{ peer: p }, v] as const),
    );
    counterFrom(reg, { name: "t_updates_total", help: "u.", labelNames: ["peer"] }, () =>
      peers.map(([p, v]) => [{ peer: p }, v * 10] as const),
    );
    gaugeFrom(reg, { name: "t_up", help: "up." }, () => 1);
    let fams = parseExposition(await reg.metrics());
    expect(value(fams, "t_prefixes", { peer: "b" })).toBe(2);
    expect(value(fams, "t_updates_total", { peer: "b" })).toBe(20);
    expect(value(fams, "t_up")).toBe(1);
    peers = [["b", 3]];
    fams = parseExposition(await reg.metrics());
    expect(() => value(fams, "t_prefixes", { peer: "a" })).toThrow(/no sample/);
    expect(value(fams, "t_updates_total", { peer: "b" })).toBe(30);
    expect(fams.get("t_updates_total")?.type).toBe("counter");
  });

  it("a registry for a process has the default process metrics", async () => {
    const fams = parseExposition(await createRegistry().metrics());
    expect(fams.get("process_cpu_user_seconds_total")?.type).toBe("counter");
    expect(fams.get("nodejs_eventloop_lag_seconds")?.type).toBe("gauge");
  });
});

describe("the strict parser refuses what Prometheus refuses", () => {
  it.each([
    ["a sample before its TYPE", "x 1\n# TYPE x gauge\n"],
    ["a family split in two", '# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx{a="1"} 2\n'],
    ["a duplicate series", '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n'],
    ["a bad escape", '# TYPE x gauge\nx{a="\\t"} 1\n'],
    ["a bad value", "# TYPE x gauge\nx one\n"],
    ["no final newline", "# TYPE x gauge\nx 1"],
    [
      "buckets not cumulative",
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ],
    ["+Inf != count", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n'],
  ])("%s", (_why, text) => {
    expect(() => parseExposition(text)).toThrow();
  });

  it("names the line", () => {
    expect(() => parseExposition("# TYPE x gauge\nx{a=1} 1\n")).toThrow(ExpositionError);
    expect(() => parseExposition("# TYPE x gauge\nx{a=1} 1\n")).toThrow(/line 2: label value must be quoted/);
  });
});

describe("serveMetrics", () => {
  const servers: MetricsServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  async function serve(address: string, routes = {}): Promise<MetricsServer> {
    const reg = createRegistry();
    counter(reg, { name: "t_hits_total", help: "hits." }).inc(2);
    const s = await serveMetrics(reg, address, routes);
    if (s === null || isAddressError(s)) throw new Error(`not served: ${JSON.stringify(s)}`);
    servers.push(s);
    return s;
  }

  it("serves /metrics with the registry's content type on IPv4 and IPv6", async () => {
    for (const [address, host] of [
      ["127.0.0.1:0", "127.0.0.1"],
      ["[::1]:0", "[::1]"],
    ] as const) {
      const s = await serve(address);
      const r = await fetch(`http://${host}:${s.port}/metrics`);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      const fams = parseExposition(await r.text());
      expect(value(fams, "t_hits_total")).toBe(2);
      expect(fams.has("process_resident_memory_bytes")).toBe(true);
    }
  });

  it("a wildcard address answers on loopback too", async () => {
    const s = await serve("0.0.0.0:0");
    expect((await fetch(`http://127.0.0.1:${s.port}/metrics`)).status).toBe(200);
  });

  it("extra routes are served; unknown paths 404; other methods 405", async () => {
    const s = await serve("127.0.0.1:0", { "/healthz": () => ({ status: 200, body: "ok\n" }) });
    const base = `http://127.0.0.1:${s.port}`;
    expect(await (await fetch(`${base}/healthz`)).text()).toBe("ok\n");
    expect((await fetch(`${base}/constructor`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it('"" serves nothing; a bad or busy address is an error value, not a throw', async () => {
    const reg = createRegistry({ defaultMetrics: false });
    expect(await serveMetrics(reg, "")).toBeNull();
    const bad = await serveMetrics(reg, "::1:80");
    expect(isAddressError(bad)).toBe(true);
    const s = await serve("127.0.0.1:0");
    const busy = await serveMetrics(reg, `127.0.0.1:${s.port}`);
    expect(isAddressError(busy) && busy.message).toMatch(/cannot listen: EADDRINUSE/);
    const absent = await serveMetrics(reg, "192.0.2.77:0");
    expect(isAddressError(absent) && absent.message).toMatch(/cannot listen: EADDRNOTAVAIL/);
  });
});
