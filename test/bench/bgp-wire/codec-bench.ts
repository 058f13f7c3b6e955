// Micro-benchmark of the BGP codec's hot paths, side by side in one run:
// packing prefixes that share attributes into UPDATEs, decoding them back, and
// the prefix representation choice (canonical strings, what bgp/wire decodes
// to, against { afi, len, addr: Buffer } objects plus the Map key a RIB would
// still have to derive from them).
//   node --expose-gc dist/test/bench/bgp-wire/codec-bench.js        (100k prefixes)
//   TRELLIS_BENCH_FULL=1 node --expose-gc dist/test/bench/bgp-wire/codec-bench.js   (1M)
// Prints a table and writes test/bench/results/bgp-wire.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { attributeKey, decodeMessage, packUpdates } from "../../../bgp/wire/index.js";
import type { CodecOptions, PathAttributes, UpdateMessage } from "../../../bgp/wire/index.js";

const N = process.env.TRELLIS_BENCH_FULL === "1" ? 1_000_000 : 100_000;
const RUNS = 5;
const opts: CodecOptions = { fourOctetAs: true };
const attrs: PathAttributes = {
  origin: 0,
  asPath: [{ type: 2, asns: [65001, 65002, 65003] }],
  nextHop: "192.0.2.1",
  med: 10,
  communities: [0xfde90064, 0xfde90065],
  largeCommunities: [{ global: 65001, local1: 1, local2: 2 }],
};
const v4 = Array.from({ length: N }, (_, i) => `${10 + (i >>> 16)}.${(i >>> 8) & 255}.${i & 255}.0/24`);
const v6 = Array.from(
  { length: N },
  (_, i) => `2001:db8:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::/64`,
);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}
const gc = (globalThis as { gc?: () => void }).gc;
function once(fn: () => void): number {
  gc?.();
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}
function time(fn: () => void): number {
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) runs.push(once(fn));
  return median(runs);
}
/** Two cases interleaved A, B, A, B… so machine noise hits both alike. */
function timePair(a: () => void, b: () => void): [number, number] {
  const ra: number[] = [];
  const rb: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    ra.push(once(a));
    rb.push(once(b));
  }
  return [median(ra), median(rb)];
}

/** The alternative representation: one object and one Buffer view per prefix. */
function decodeAsObjects(
  buf: Buffer,
  start: number,
  end: number,
  out: { afi: number; len: number; addr: Buffer }[],
) {
  let o = start;
  while (o < end) {
    const len = buf.readUInt8(o++);
    const n = (len + 7) >> 3;
    out.push({ afi: 1, len, addr: buf.subarray(o, o + n) });
    o += n;
  }
}

const rows: { case: string; ms: number; perSecond: number; unit: string; note?: string }[] = [];
const row = (name: string, ms: number, count: number, unit: string, note?: string) => {
  const r = { case: name, ms: Math.round(ms * 10) / 10, perSecond: Math.round(count / (ms / 1000)), unit };
  rows.push(note === undefined ? r : { ...r, note });
};

let msgs4: Buffer[] = [];
let msgs6: Buffer[] = [];
const v6attrs = { ...attrs, nextHop: "2001:db8::1" };
row(
  "packUpdates IPv4 /24",
  time(() => (msgs4 = packUpdates(attrs, v4, [], opts))),
  N,
  "prefixes",
  `${msgs4.length} UPDATEs`,
);
row(
  "packUpdates IPv6 /64",
  time(() => (msgs6 = packUpdates(v6attrs, v6, [], opts))),
  N,
  "prefixes",
  `${msgs6.length} UPDATEs`,
);
row(
  "decodeMessage IPv4",
  time(() => msgs4.forEach((m) => decodeMessage(m, opts))),
  N,
  "prefixes",
);
row(
  "decodeMessage IPv6",
  time(() => msgs6.forEach((m) => decodeMessage(m, opts))),
  N,
  "prefixes",
);

// Representation: decode + insert into a Map keyed by prefix, as the Adj-RIB-In does.
const [tStrings, tObjects] = timePair(
  () => {
    const rib = new Map<string, number>();
    for (const m of msgs4) for (const p of (decodeMessage(m, opts) as UpdateMessage).nlri) rib.set(p, 1);
  },
  () => {
    const rib = new Map<string, number>();
    for (const m of msgs4) {
      const alen = m.readUInt16BE(21);
      const list: { afi: number; len: number; addr: Buffer }[] = [];
      decodeAsObjects(m, 23 + alen, m.length, list);
      for (const p of list) rib.set(`${p.addr.toString("hex")}/${p.len}`, 1);
    }
  },
);
row("strings: decodeMessage + Map.set", tStrings, N, "prefixes", "bgp/wire's choice");
row(
  "objects+Buffer: NLRI only + key + Map.set",
  tObjects,
  N,
  "prefixes",
  "alternative (skips attribute parsing)",
);
const keyCount = 100_000;
row(
  "attributeKey",
  time(() => {
    for (let i = 0; i < keyCount; i++) attributeKey(attrs);
  }),
  keyCount,
  "calls",
);

const table = rows.map(
  (r) =>
    `${r.case.padEnd(40)} ${String(r.ms).padStart(9)} ms ${String(r.perSecond).padStart(11)} ${r.unit}/s  ${r.note ?? ""}`,
);
console.log(`bgp/wire codec, ${N} prefixes, median of ${RUNS} runs, node ${process.version}`);
console.log(["case".padEnd(40) + "      time        rate", ...table].join("\n"));
const dir = new URL("../../../../test/bench/results/", import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(
  new URL("bgp-wire.json", dir),
  JSON.stringify({ prefixes: N, runs: RUNS, node: process.version, rows }, null, 2) + "\n",
);
