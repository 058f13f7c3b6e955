#!/usr/bin/env node
// The route generator of the BGP benchmark (bgperf's "tester", but tiny): it
// speaks just enough BGP-4 to bring P sessions to Established (OPEN with the
// Multiprotocol and 4-octet AS capabilities, KEEPALIVE), then writes UPDATEs it
// encoded *before* connecting (bgp/wire packUpdates: ~1000 /24s per 4 KB
// message), and keeps the sessions alive with KEEPALIVEs. It reads and throws
// away what the target sends, stopping only on a NOTIFICATION. Encoding is off
// the clock, so sending 1M prefixes is a few MB of socket writes: far faster
// than any target can parse and select them.
//
// Runs inside the generator's network namespace; reports JSON lines on stdout:
//   {"event":"encoded","updates":N,"bytes":B}
//   {"event":"established","peers":P,"at":ms}
//   {"event":"sent","at":ms,"ms":...}   (t0 of the benchmark = "established".at)
//   {"event":"error","message":...}
import net from "node:net";
import { encodeMessage, frame, packUpdates, decodeMessage } from "../../../bgp/wire/index.js";
import type { CodecOptions, OpenMessage } from "../../../bgp/wire/index.js";

export interface GeneratorOptions {
  target: string;
  port: number;
  targetAsn: number;
  peers: number;
  prefixes: number;
  /** first local address; peer i uses base + i in the last octet */
  localBase: string;
  asnBase: number;
  /** all peers announce the same N prefixes (true) or P×N distinct ones */
  overlap: boolean;
  holdTime: number;
}

const CODEC: CodecOptions = { fourOctetAs: true };

function addrPlus(base: string, i: number): string {
  const p = base.split(".").map(Number);
  const n = (((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0) + i;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** The k-th benchmark prefix: /24s from 32.0.0.0 upward (isolated namespaces only). */
export function benchPrefix(k: number): string {
  const n = (32 << 24) + k * 256;
  return `${Math.floor(n / 16777216)}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.0/24`;
}

export function encodePeerUpdates(o: GeneratorOptions, i: number): Buffer[] {
  const prefixes: string[] = [];
  for (let j = 0; j < o.prefixes; j++) prefixes.push(benchPrefix(o.overlap ? j : i * o.prefixes + j));
  const asn = o.asnBase + i;
  return packUpdates(
    { origin: 0, asPath: [{ type: 2, asns: [asn, 64999] }], nextHop: addrPlus(o.localBase, i) },
    prefixes,
    [],
    CODEC,
  );
}

function openFor(o: GeneratorOptions, i: number): Buffer {
  const asn = o.asnBase + i;
  const open: OpenMessage = {
    type: "OPEN",
    version: 4,
    myAs: asn > 0xffff ? 23456 : asn,
    holdTime: o.holdTime,
    bgpId: addrPlus(o.localBase, i),
    capabilities: [
      { kind: "multiprotocol", afi: 1, safi: 1 },
      { kind: "route-refresh" },
      { kind: "four-octet-as", asn },
    ],
  };
  return encodeMessage(open, CODEC);
}

const KEEPALIVE = encodeMessage({ type: "KEEPALIVE" }, CODEC);

class Session {
  readonly sock: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private gotOpen = false;
  established = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly o: GeneratorOptions,
    readonly i: number,
    private readonly onUp: () => void,
    private readonly onError: (m: string) => void,
  ) {
    this.sock = net.connect({ host: o.target, port: o.port, localAddress: addrPlus(o.localBase, i) });
    this.sock.setNoDelay(true);
    this.sock.on("connect", () => this.sock.write(openFor(o, i)));
    this.sock.on("data", (d: Buffer) => this.onData(d));
    this.sock.on("error", (e) => this.onError(`peer ${i}: ${e.message}`));
    this.sock.on("close", () => {
      if (this.timer) clearInterval(this.timer);
      if (this.established) this.onError(`peer ${i}: connection closed by the target`);
    });
  }

  private onData(d: Buffer): void {
    // Before Established we parse; afterwards only the header, to catch a NOTIFICATION.
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    let off = 0;
    for (;;) {
      let f: { length: number; type: number } | null;
      try {
        f = frame(this.buf, off, 65535);
      } catch (e) {
        this.onError(`peer ${this.i}: bad framing from target: ${(e as Error).message}`);
        return;
      }
      if (f === null) break;
      const msg = this.buf.subarray(off, off + f.length);
      off += f.length;
      if (f.type === 3) {
        const n = decodeMessage(msg, CODEC);
        this.onError(`peer ${this.i}: NOTIFICATION ${JSON.stringify(n)}`);
        this.sock.destroy();
        return;
      }
      if (!this.gotOpen && f.type === 1) {
        const open = decodeMessage(msg, CODEC) as OpenMessage;
        if (!open.capabilities.some((c) => c.kind === "four-octet-as")) {
          this.onError(`peer ${this.i}: target lacks 4-octet AS; UPDATEs were pre-encoded for it`);
          return;
        }
        this.gotOpen = true;
        this.sock.write(KEEPALIVE);
        const every = Math.max(
          1,
          Math.floor(Math.min(this.o.holdTime, open.holdTime || this.o.holdTime) / 3),
        );
        this.timer = setInterval(() => this.sock.write(KEEPALIVE), every * 1000);
      } else if (this.gotOpen && !this.established && f.type === 4) {
        this.established = true;
        this.onUp();
      }
    }
    this.buf = off >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
  }

  send(updates: Buffer[]): Promise<void> {
    return new Promise((resolve) => {
      // one writev of the whole table; the kernel socket buffer and the
      // target's reading pace decide the rest
      this.sock.cork();
      for (const u of updates) this.sock.write(u);
      this.sock.uncork();
      this.sock.write(Buffer.alloc(0), () => resolve());
    });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.sock.destroy();
  }
}

export async function runGenerator(
  o: GeneratorOptions,
  emit: (e: Record<string, unknown>) => void,
): Promise<() => void> {
  const encoded: Buffer[][] = [];
  let bytes = 0;
  let updates = 0;
  for (let i = 0; i < o.peers; i++) {
    const u = encodePeerUpdates(o, i);
    encoded.push(u);
    updates += u.length;
    for (const b of u) bytes += b.length;
  }
  emit({ event: "encoded", updates, bytes });
  const sessions: Session[] = [];
  let up = 0;
  let failed = false;
  await new Promise<void>((resolve, reject) => {
    for (let i = 0; i < o.peers; i++)
      sessions.push(
        new Session(
          o,
          i,
          () => {
            if (++up === o.peers) resolve();
          },
          (m) => {
            if (!failed) emit({ event: "error", message: m });
            failed = true;
            reject(new Error(m));
          },
        ),
      );
  });
  const t0 = Date.now();
  emit({ event: "established", peers: o.peers, at: t0 });
  await Promise.all(sessions.map((s, i) => s.send(encoded[i]!)));
  emit({ event: "sent", at: Date.now(), ms: Date.now() - t0 });
  return () => sessions.forEach((s) => s.close());
}

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : dflt;
  if (v === undefined) {
    process.stderr.write(`generator: --${name} is required\n`);
    process.exit(2);
  }
  return v;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const o: GeneratorOptions = {
    target: arg("target"),
    port: Number(arg("port", "179")),
    targetAsn: Number(arg("target-asn", "65000")),
    peers: Number(arg("peers", "1")),
    prefixes: Number(arg("prefixes", "10000")),
    localBase: arg("local-base", "10.200.0.10"),
    asnBase: Number(arg("asn-base", "65100")),
    overlap: arg("overlap", "0") === "1",
    holdTime: Number(arg("hold-time", "180")),
  };
  const emit = (e: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(e) + "\n");
  runGenerator(o, emit)
    .then((close) => {
      // stay up (keepalives) until the harness closes stdin or signals us
      const stop = (): void => {
        close();
        process.exit(0);
      };
      process.stdin.on("end", stop);
      process.stdin.resume();
      process.on("SIGTERM", stop);
    })
    .catch((e: unknown) => {
      emit({ event: "error", message: e instanceof Error ? e.message : String(e) });
      process.exit(1);
    });
}
