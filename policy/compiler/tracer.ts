/**
 * A packet tracer over compiled table content (knftables-style): walks one
 * packet through the base chains of a hook the way the kernel does, for the
 * subset of expressions the compiler emits. Tests use it to check the
 * compiled rules against the reference evaluator without root or a kernel;
 * the namespace suites then check the kernel agrees.
 */
import { parseIPv4 } from "../model/ipv4.js";
import type { NftChain, NftTable } from "./nft-table.js";

export interface Packet {
  readonly iifname: string;
  readonly oifname: string;
  readonly saddr: string;
  readonly daddr: string;
  readonly protocol: "tcp" | "udp" | "sctp";
  readonly dport: number;
  /** Conntrack state of the packet (a new connection's first packet: "new"). */
  readonly ct: "new" | "established" | "related";
  readonly family?: "ipv4" | "ipv6";
}

export interface TraceResult {
  readonly verdict: "accept" | "drop";
  /** chain:rule-index for every rule that matched, in order. */
  readonly path: readonly string[];
}

type Value = string | number | readonly (string | number)[];

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
        return p.family ?? "ipv4";
    }
  }
  if (o["payload"]) {
    const { protocol, field: f } = o["payload"] as { protocol: string; field: string };
    if (protocol === "ip")
      return (p.family ?? "ipv4") === "ipv4" ? (f === "saddr" ? p.saddr : p.daddr) : undefined;
    if (protocol === "th" && f === "dport") return p.dport;
    if ((protocol === "tcp" || protocol === "udp") && f === "dport")
      return p.protocol === protocol ? p.dport : undefined;
  }
  if (o["ct"] && o["ct"]["key"] === "state") return p.ct;
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
  if (typeof elem === "string") {
    const a = parseIPv4(elem);
    if (a !== undefined && typeof v === "string") return parseIPv4(v) === a;
    return elem === v;
  }
  const o = elem as Record<string, unknown>;
  if (o["prefix"]) {
    const { addr, len } = o["prefix"] as { addr: string; len: number };
    const start = parseIPv4(addr) as number;
    const x = typeof v === "string" ? parseIPv4(v) : undefined;
    return x !== undefined && x >= start && x <= start + 2 ** (32 - len) - 1;
  }
  if (o["range"]) {
    const [lo, hi] = o["range"] as [string | number, string | number];
    if (typeof lo === "number" && typeof v === "number") return v >= lo && v <= (hi as number);
    const x = typeof v === "string" ? parseIPv4(v) : undefined;
    return (
      x !== undefined && x >= (parseIPv4(String(lo)) as number) && x <= (parseIPv4(String(hi)) as number)
    );
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
        // jump: resume after the jump. (The compiler emits no goto; treated as the end of the caller.)
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
