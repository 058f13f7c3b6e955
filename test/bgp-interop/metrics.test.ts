// trellis-bgp's /metrics, end to end: two real daemons (dist/bgp/bin/trellis-bgp.js
// from config files), each in its own namespace with its own kernel FIB, peer
// over a veth. Each one's /metrics is fetched from the other namespace over
// the link (the chart scrapes from the pod network: 0.0.0.0 and [::]),
// parsed strictly, and must show the Established session, the prefixes
// exchanged, the UPDATEs counted both ways and the routes in the kernel.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { type Family, parseExposition, value } from "../../net/prom-text.js";
import { NetLab, TrellisDaemon, TRELLIS_BGP, sh, trySh, untilAsync, until } from "./netlab.js";

const PORT = 9179;
let lab: NetLab;
let a: TrellisDaemon;
let peerLog = "";

/** GET `url` from inside namespace `ns` with Node's fetch; throws on a non-200. */
function scrape(ns: string, url: string): { type: string; fams: Map<string, Family> } {
  const script =
    `const r = await fetch(${JSON.stringify(url)});` +
    'process.stdout.write(JSON.stringify({ status: r.status, type: r.headers.get("content-type"), body: await r.text() }));';
  const out = sh("ip", ["netns", "exec", ns, process.execPath, "--input-type=module", "-e", script]);
  const r = JSON.parse(out) as { status: number; type: string; body: string };
  if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status}`);
  return { type: r.type, fams: parseExposition(r.body) };
}

beforeAll(async () => {
  lab = new NetLab("mx", ["p"]);
  const l = lab.link("p");
  // "a": the daemon under test, in the lab's Trellis namespace.
  a = new TrellisDaemon(lab, {
    asn: 65001,
    routerId: "10.77.0.1",
    holdTime: 9,
    connectRetryTime: 1,
    fib: { enabled: true },
    metricsAddress: `0.0.0.0:${PORT}`,
    peers: [{ address: l.p4, asn: 65002, families: ["ipv4-unicast"] }],
    originate: [{ prefix: "10.91.0.0/24" }, { prefix: "10.91.1.0/24" }],
  });
  // "b": a second trellis-bgp as its peer, in the peer namespace, metrics on [::].
  const bConfig = join(lab.dir, "b.yaml");
  writeFileSync(
    bConfig,
    stringify({
      asn: 65002,
      routerId: "10.77.0.2",
      listen: { address: "0.0.0.0", port: 179 },
      holdTime: 9,
      connectRetryTime: 1,
      fib: { enabled: true },
      metricsAddress: `[::]:${PORT}`,
      peers: [{ address: l.t4, asn: 65001, passive: true, families: ["ipv4-unicast"] }],
      originate: [{ prefix: "10.92.0.0/24" }],
    }),
  );
  peerLog = "b.log";
  lab.spawnIn(l.ns, process.execPath, [TRELLIS_BGP, "--config", bConfig, "--log-level", "debug"], peerLog);
  await a.start();
  await untilAsync(async () => (await a.peer(l.p4))?.state === "Established", 20_000, "session Established");
  await until(() => lab.kernelRoutes().includes("10.92.0.0/24"), 10_000, "b's prefix in a's kernel");
}, 60_000);

afterAll(async () => {
  await a?.stop();
  lab?.destroy();
}, 30_000);

describe("trellis-bgp /metrics", () => {
  it("a (0.0.0.0:PORT), scraped from the peer's namespace: Established, prefixes, UPDATEs, FIB", async () => {
    const l = lab.link("p");
    const { type, fams } = scrape(l.ns, `http://${l.t4}:${PORT}/metrics`);
    expect(type).toBe("text/plain; version=0.0.4; charset=utf-8");
    const peer = { peer: l.p4 };
    expect(value(fams, "trellis_bgp_session_state", { ...peer, state: "Established" })).toBe(1);
    for (const s of ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm"])
      expect(value(fams, "trellis_bgp_session_state", { ...peer, state: s })).toBe(0);
    expect(value(fams, "trellis_bgp_sessions", { state: "Established" })).toBe(1);
    expect(value(fams, "trellis_bgp_sessions", { state: "Idle" })).toBe(0);
    expect(value(fams, "trellis_bgp_prefixes_received", peer)).toBe(1);
    expect(value(fams, "trellis_bgp_prefixes_accepted", peer)).toBe(1);
    expect(value(fams, "trellis_bgp_prefixes_advertised", peer)).toBe(2);
    // One UPDATE with b's prefix and End-of-RIB at least; ours the same way.
    expect(value(fams, "trellis_bgp_updates_received_total", peer)).toBeGreaterThanOrEqual(2);
    expect(value(fams, "trellis_bgp_updates_sent_total", peer)).toBeGreaterThanOrEqual(2);
    expect(fams.get("trellis_bgp_updates_received_total")?.type).toBe("counter");
    expect(value(fams, "trellis_bgp_fib_routes_installed")).toBe(1);
    expect(value(fams, "trellis_bgp_fib_install_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(fams.get("trellis_bgp_fib_install_seconds")?.type).toBe("histogram");
    expect(fams.get("process_cpu_user_seconds_total")?.type).toBe("counter");
  });

  it("b ([::]:PORT), scraped over IPv6 from a's namespace, sees the same session from its side", () => {
    const l = lab.link("p");
    const { fams } = scrape(lab.trellisNs, `http://[${l.p6}]:${PORT}/metrics`);
    const peer = { peer: l.t4 };
    expect(value(fams, "trellis_bgp_session_state", { ...peer, state: "Established" })).toBe(1);
    expect(value(fams, "trellis_bgp_prefixes_received", peer)).toBe(2);
    expect(value(fams, "trellis_bgp_prefixes_advertised", peer)).toBe(1);
    expect(value(fams, "trellis_bgp_fib_routes_installed")).toBe(2);
  });

  it("a peer that goes away is counted out of Established", async () => {
    const l = lab.link("p");
    // Stop b (Cease): a's session leaves Established, and its learned route leaves the kernel.
    const pids = trySh("ip", ["netns", "pids", l.ns]).out.split(/\s+/).filter(Boolean);
    for (const pid of pids) process.kill(Number(pid), "SIGTERM");
    await untilAsync(
      async () => (await a.peer(l.p4))?.state !== "Established",
      10_000,
      "a's session to leave Established",
    );
    const { fams } = scrape(l.ns, `http://${l.t4}:${PORT}/metrics`);
    expect(value(fams, "trellis_bgp_session_state", { peer: l.p4, state: "Established" })).toBe(0);
    expect(value(fams, "trellis_bgp_sessions", { state: "Established" })).toBe(0);
    expect(value(fams, "trellis_bgp_prefixes_received", { peer: l.p4 })).toBe(0);
    await until(() => !lab.kernelRoutes().includes("10.92.0.0/24"), 10_000, "b's prefix out of a's kernel");
    const after = scrape(l.ns, `http://${l.t4}:${PORT}/metrics`).fams;
    expect(value(after, "trellis_bgp_fib_routes_installed")).toBe(0);
  });
});
