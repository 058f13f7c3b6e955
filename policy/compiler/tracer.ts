/**
 * A packet tracer over compiled table content (knftables-style): walks one
 * packet through the base chains of a hook the way the kernel does, for the
 * subset of expressions the compiler emits. Tests use it to check the
 * compiled rules against the reference evaluator without root or a kernel;
 * the namespace suites then check the kernel agrees.
 */
import { isIPv6 } from "../model/ipv4.js";
import { addrValue } from "../model/ipv6.js";
import type { NftChain, NftTable } from "./nft-table.js";

export interface Packet {
  readonly iifname: string;
  readonly oifname: string;
  readonly saddr: string;
  readonly daddr: string;
  /** `meta l4proto` names: ICMP echo is "icmp" over IPv4, "ipv6-icmp" over IPv6. */
  readonly protocol: "tcp" | "udp" | "sctp" | "icmp" | "ipv6-icmp";
  /** For ICMP, whatever `th dport` reads there (the checksum): no port set names ICMP. */
  readonly dport: number;
  /** Conntrack state of the packet (a new connection's first packet: "new"). */
  readonly ct: "new" | "established" | "related";
  /** The flow's conntrack mark (default 0; with CT_MARK_DENIED: a policy change denied it). */
  readonly ctMark?: number;
  /** Default: from the addresses' form. */
  readonly family?: "ipv4" | "ipv6";
}

export interface TraceResult {
  readonly verdict: "accept" | "drop";
  /** chain:rule-index for every rule that matched, in order. */
  readonly path: readonly string[];
}

type Value = string | number | readonly (string | number)[];

function familyOf(p: Packet): "ipv4" | "ipv6" {
  return p.family ?? (isIPv6(p.saddr) ? "ipv6" : "ipv4");
}

function field(p: Packet, e: unknown): Value | undefined {
  const o = e as Record<string, Record<string, string>>;
  if (o["meta"]) {
    switch (o["meta"]["key"]) {
      case "iifname":
        return p.iifname;
      case "oifname":
        return p.oifname;
      case "l4proto":
        return p.protocol;
      case "nfproto":
        return familyOf(p);
    }
  }
  if (o["payload"]) {
    const { protocol, field: f } = o["payload"] as { protocol: string; field: string };
    // `ip …` and `ip6 …` imply `meta nfproto` in an inet table: no match on the other family.
    if (protocol === "ip" || protocol === "ip6")
      return familyOf(p) === (protocol === "ip" ? "ipv4" : "ipv6")
        ? f === "saddr"
          ? p.saddr
          : p.daddr
        : undefined;
    if (protocol === "th" && f === "dport") return p.dport;
    if ((protocol === "tcp" || protocol === "udp") && f === "dport")
      return p.protocol === protocol ? p.dport : undefined;
  }
  if (o["ct"] && o["ct"]["key"] === "state") return p.ct;
  if (o["ct"] && o["ct"]["key"] === "mark") return p.ctMark ?? 0;
  const and = (e as { "&"?: [unknown, number] })["&"];
  if (and !== undefined) {
    const v = field(p, and[0]);
    return typeof v === "number" ? (v & and[1]) >>> 0 : undefined;
  }
  if (typeof e === "object" && e !== null && Array.isArray((e as { concat?: unknown[] }).concat)) {
    const parts = (e as { concat: unknown[] }).concat.map((x) => field(p, x));
    if (parts.some((x) => x === undefined)) return undefined;
    return parts as (string | number)[];
  }
  throw new Error(`tracer: unsupported expression ${JSON.stringify(e)}`);
}

/** Does one element (address, prefix, range, name, port, or concat of them) match a value? */
function elemMatches(elem: unknown, v: string | number): boolean {
  if (typeof elem === "number") return elem === v;
  const x = typeof v === "string" ? addrValue(v) : undefined;
  if (typeof elem === "string") {
    const a = addrValue(elem);
    if (a !== undefined && x !== undefined) return a.v6 === x.v6 && a.n === x.n;
    return elem === v;
  }
  const o = elem as Record<string, unknown>;
  if (o["prefix"]) {
    const { addr: base, len } = o["prefix"] as { addr: string; len: number };
    const start = addrValue(base);
    if (!start || !x || start.v6 !== x.v6) return false;
    const size = 1n << BigInt((start.v6 ? 128 : 32) - len);
    return x.n >= start.n && x.n < start.n + size;
  }
  if (o["range"]) {
    const [lo, hi] = o["range"] as [string | number, string | number];
    if (typeof lo === "number" && typeof v === "number") return v >= lo && v <= (hi as number);
    const a = addrValue(String(lo));
    const b = addrValue(String(hi));
    return !!a && !!b && !!x && a.v6 === x.v6 && x.n >= a.n && x.n <= b.n;
  }
  return false;
}

function inSet(elements: readonly unknown[], v: Value): boolean {
  return elements.some((el) => {
    // (a string element has a `concat` method: look only at objects)
    const concat = typeof el === "object" && el !== null ? (el as { concat?: unknown[] }).concat : undefined;
    if (concat)
      return (
        Array.isArray(v) &&
        concat.every((part, i) => elemMatches(part, (v as (string | number)[])[i] as string | number))
      );
    return !Array.isArray(v) && elemMatches(el, v as string | number);
  });
}

function wildcard(pattern: string, v: string): boolean {
  return pattern.endsWith("*") ? v.startsWith(pattern.slice(0, -1)) : pattern === v;
}

type Outcome = { kind: "accept" } | { kind: "drop" } | { kind: "return" } | { kind: "continue" };

export function trace(table: NftTable, p: Packet, hook: "forward" = "forward"): TraceResult {
  const chains = new Map(table.chains.map((c) => [c.name, c]));
  const sets = new Map<string, readonly unknown[]>([...table.sets.map((s) => [s.name, s.elements] as const)]);
  const maps = new Map(table.maps.map((m) => [m.name, m.elements]));
  const path: string[] = [];

  const matches = (m: { op: string; left: unknown; right: unknown }): boolean => {
    const v = field(p, m.left);
    if (v === undefined) return false; // e.g. `ip saddr` on an IPv6 packet
    let hit: boolean;
    if (typeof m.right === "string" && m.right.startsWith("@")) {
      const els = sets.get(m.right.slice(1));
      if (!els) throw new Error(`tracer: no set ${m.right}`);
      hit = inSet(els, v);
    } else if (Array.isArray(m.right)) hit = (m.right as unknown[]).includes(v);
    else if (typeof m.right === "string" && typeof v === "string") hit = wildcard(m.right, v);
    else hit = m.right === v;
    return m.op === "!=" ? !hit : hit;
  };

  const run = (chain: NftChain, depth: number): Outcome => {
    if (depth > 16) throw new Error("tracer: jump loop");
    for (const [i, r] of chain.rules.entries()) {
      let ok = true;
      for (const e of r.expr) {
        const o = e as Record<string, unknown>;
        if (o["match"]) {
          if (!matches(o["match"] as { op: string; left: unknown; right: unknown })) {
            ok = false;
            break;
          }
          continue;
        }
        if ("counter" in o || "log" in o) continue;
        path.push(`${chain.name}:${i}`);
        const verdict = o["vmap"]
          ? (() => {
              const { key, data } = o["vmap"] as { key: unknown; data: string };
              const v = field(p, key);
              const hit = (maps.get(data.slice(1)) ?? []).find(([k]) => k === v);
              return hit ? (hit[1] as Record<string, unknown>) : undefined;
            })()
          : o;
        if (verdict === undefined) {
          ok = false; // vmap miss: next rule
          break;
        }
        const out = apply(verdict, depth);
        if (out.kind !== "continue") return out;
        ok = false;
        break;
      }
      if (ok) path.push(`${chain.name}:${i}`);
    }
    return { kind: "continue" };
  };

  const apply = (v: Record<string, unknown>, depth: number): Outcome => {
    if ("accept" in v) return { kind: "accept" };
    if ("drop" in v) return { kind: "drop" };
    if ("return" in v) return { kind: "return" };
    const target = (v["jump"] ?? v["goto"]) as { target: string } | undefined;
    if (target) {
      const c = chains.get(target.target);
      if (!c) throw new Error(`tracer: no chain ${target.target}`);
      const out = run(c, depth + 1);
      if (out.kind === "return" || out.kind === "continue") {
        // jump: resume after the jump; goto: the caller is gone, so its own caller resumes (nft semantics).
        return v["goto"] ? { kind: "return" } : { kind: "continue" };
      }
      return out;
    }
    throw new Error(`tracer: unsupported verdict ${JSON.stringify(v)}`);
  };

  const bases = table.chains
    .filter((c) => c.base?.hook === hook)
    .sort((a, b) => (a.base?.prio ?? 0) - (b.base?.prio ?? 0));
  for (const b of bases) {
    const out = run(b, 0);
    // `accept` ends only this base chain; `return` or falling off applies its policy.
    if (out.kind === "drop") return { verdict: "drop", path };
    if (out.kind !== "accept" && b.base?.policy === "drop") return { verdict: "drop", path };
  }
  return { verdict: "accept", path };
}
