/**
 * TCP MD5 (RFC 2385, `password`) and GTSM (RFC 5082, `ttlSecurity`) with BIRD,
 * FRR and GoBGP in network namespaces. Right key -> Established; wrong or
 * missing key, or a peer whose packets arrive below TTL 255 -> never
 * Established, with the reason in trellis-bgp's peer status. A reload that
 * changes a password resets the session.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  NetLab,
  T_AS,
  TrellisDaemon,
  labSpeakerConfig,
  sleep,
  stopAll,
  until,
  untilAsync,
} from "./netlab.js";
import { BirdPeer } from "./bird.js";
import { FrrPeer } from "./frr.js";
import { GobgpPeer } from "./gobgp.js";
import type { PeerDriver, PeerDriverOptions } from "./driver.js";

const KEY = "s3cret-Key";
const MD5_TEXT = /MD5 signature mismatch suspected \(peer does not answer\)/;
/** Either view: the peer's connection arrived with TTL 1, or ours got no answer. */
const TTL_TEXT =
  /TTL security: a connection from the peer arrived with TTL 1 \(< 255\): dropped|TTL security suspected: packets arriving with TTL < 255 are dropped/;

/**
 * b/f/g: BIRD, FRR, GoBGP (over IPv6) with the key; c/h/k: BIRD, FRR and FRR
 * over IPv6 with GTSM; d: BIRD without GTSM facing our ttlSecurity (it sends eBGP with TTL 1);
 * n: FRR without a key facing our password.
 */
type Name = "b" | "f" | "g" | "c" | "h" | "k" | "d" | "n";
const PEERS: { name: Name; kind: "bird" | "frr" | "gobgp"; opts: Partial<PeerDriverOptions> }[] = [
  { name: "b", kind: "bird", opts: { password: KEY } },
  { name: "f", kind: "frr", opts: { password: KEY } },
  { name: "g", kind: "gobgp", opts: { password: KEY, ipv6Transport: true } },
  { name: "c", kind: "bird", opts: { ttlSecurity: true } },
  { name: "h", kind: "frr", opts: { ttlSecurity: true } },
  { name: "k", kind: "frr", opts: { ttlSecurity: true, ipv6Transport: true } },
  { name: "d", kind: "bird", opts: {} },
  { name: "n", kind: "frr", opts: {} },
];
const asOf = (i: number): number => 65100 + i;

describe("BGP session security with BIRD, FRR and GoBGP (MD5, GTSM)", () => {
  let lab: NetLab;
  let trellis: TrellisDaemon;
  const peers = new Map<Name, PeerDriver>();

  const addr = (n: Name): string => {
    const l = lab.link(n);
    return n === "g" || n === "k" ? l.p6 : l.p4;
  };

  function config(passwords: Partial<Record<Name, string>> = {}): Record<string, unknown> {
    const perPeer: Record<Name, Record<string, unknown>> = {
      b: { password: passwords.b ?? KEY },
      f: { password: passwords.f ?? KEY },
      g: { password: passwords.g ?? KEY },
      c: { ttlSecurity: 1 },
      h: { ttlSecurity: 1 },
      k: { ttlSecurity: 1 },
      d: { ttlSecurity: 1 },
      n: { password: KEY },
    };
    return labSpeakerConfig({
      holdTime: 3,
      keepaliveTime: 1,
      restartBackoff: { initialMs: 500, maxMs: 2000, jitter: 0 },
      peers: PEERS.map((p, i) => ({
        address: addr(p.name),
        asn: asOf(i),
        families: ["ipv4-unicast", "ipv6-unicast"],
        ...perPeer[p.name],
      })),
      originate: [{ prefix: "10.100.0.0/24" }],
    });
  }

  const state = async (n: Name): Promise<string | undefined> => (await trellis.peer(addr(n)))?.state;
  const lastError = async (n: Name): Promise<string> => (await trellis.peer(addr(n)))?.lastError ?? "";
  const established = async (n: Name, ms = 30000): Promise<void> => {
    await untilAsync(async () => (await state(n)) === "Established", ms, `session with ${n}`);
  };

  beforeAll(async () => {
    lab = new NetLab(
      "sec",
      PEERS.map((p) => p.name),
    );
    PEERS.forEach((p, i) => {
      const opts: PeerDriverOptions = {
        name: p.name,
        asn: asOf(i),
        routerId: `10.255.1.${i + 2}`,
        trellisAsn: T_AS,
        routes: [{ prefix: `10.${220 + i}.0.0/24` }],
        ...p.opts,
      };
      const link = lab.link(p.name);
      peers.set(
        p.name,
        p.kind === "bird"
          ? new BirdPeer(lab, link, opts)
          : p.kind === "frr"
            ? new FrrPeer(lab, link, opts)
            : new GobgpPeer(lab, link, opts),
      );
    });
    trellis = new TrellisDaemon(lab, config());
    await Promise.all([trellis.start(), ...[...peers.values()].map((p) => p.start())]);
  }, 60000);

  afterAll(() => stopAll(trellis, lab), 30000);

  it("MD5 with the right key: BIRD, FRR and GoBGP (IPv6) reach Established and exchange routes", async () => {
    for (const n of ["b", "f", "g"] as const) await established(n);
    await until(
      () => ["b", "f", "g"].every((n) => peers.get(n as Name)!.established()),
      10000,
      "peers see Established",
    );
    // A learned route is installed: the session carries traffic, not just OPENs.
    await until(() => lab.kernelRoutes().includes("10.220.0.0/24"), 10000, "BIRD's route in the kernel");
  }, 60000);

  it("GTSM (ttlSecurity: 1) with BIRD `ttl security on` and FRR `ttl-security hops 1` (IPv4, and IPv6 with FRR): Established", async () => {
    for (const n of ["c", "h", "k"] as const) await established(n);
    await until(() => peers.get("k")!.established(), 10000, "FRR sees Established over IPv6");
    await until(
      () => peers.get("c")!.established() && peers.get("h")!.established(),
      10000,
      "peers see Established",
    );
  }, 60000);

  it("a peer without GTSM (its packets arrive with TTL 1) never reaches Established; the status says why", async () => {
    // BIRD's listener answers our SYN with TTL 255, so our own connection reaches
    // OpenSent and waits for an OPEN that GTSM drops: said after 3 s; or BIRD's
    // own connection comes in first (its SYN at TTL 1, judged by the saved SYN).
    await untilAsync(async () => TTL_TEXT.test(await lastError("d")), 15000, "TTL security in d's lastError");
    expect(await state("d")).not.toBe("Established");
    expect(peers.get("d")!.established()).toBe(false);
  }, 45000);

  it("a peer without the key never reaches Established; the status says an MD5 mismatch is suspected", async () => {
    await untilAsync(async () => MD5_TEXT.test(await lastError("n")), 15000, "MD5 in n's lastError");
    expect(await state("n")).not.toBe("Established");
    expect(peers.get("n")!.established()).toBe(false);
  }, 30000);

  it("a reload with a wrong key resets the sessions, which stay down with the reason; the right key brings them back", async () => {
    trellis.reload(config({ b: "wrong", f: "wrong", g: "wrong" }));
    for (const n of ["b", "f", "g"] as const)
      await untilAsync(async () => MD5_TEXT.test(await lastError(n)), 20000, `MD5 in ${n}'s lastError`);
    // Long enough for several ConnectRetry rounds (1 s) and the peers' own attempts.
    await sleep(4000);
    for (const n of ["b", "f", "g"] as const) {
      expect(await state(n)).not.toBe("Established");
      expect(peers.get(n)!.established()).toBe(false);
    }
    // Untouched peers stayed up.
    expect(await state("c")).toBe("Established");
    trellis.reload(config());
    for (const n of ["b", "f", "g"] as const) await established(n);
  }, 90000);

  it("the daemon never logs the password", () => {
    expect(trellis.log()).not.toContain(KEY);
  });
});
