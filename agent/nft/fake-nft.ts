/**
 * A first-class fake of `nft -j` for one table (`inet trellis`, or the one
 * given to the constructor, e.g. `inet trellis-nat`), with the driver's
 * backend interface: each `run` is atomic (applied to a copy, committed only
 * if every command succeeds), it rejects what the kernel rejects that the
 * driver could get wrong (missing objects, deleting referenced ones,
 * overlapping interval elements, absent elements), and `listTable` dumps the
 * state in the `nft -j list` shape. It records every transaction it accepted.
 * `runElements` (the real backend's netlink path) applies the same element
 * commands by the same rules, and counts the transactions that took it.
 */
import { POLICY_TABLE, type TableRef } from "../../policy/compiler/nft-table.js";
import { NftError, type NftBackend } from "./backend.js";
import type { ElementChange } from "../../net/netlink/nftables.js";
import { elemKey } from "./kernel-state.js";
import { addrValue } from "../../policy/model/ipv6.js";

interface FSet {
  name: string;
  type: unknown;
  flags: string[];
  map: boolean;
  elems: Map<string, unknown>;
}
interface FRule {
  comment?: string;
  expr: unknown[];
  handle: number;
}
interface FChain {
  name: string;
  base?: Record<string, unknown>;
  rules: FRule[];
}
interface FTable {
  sets: Map<string, FSet>;
  chains: Map<string, FChain>;
}

function clone(t: FTable): FTable {
  return {
    sets: new Map([...t.sets].map(([k, s]) => [k, { ...s, flags: [...s.flags], elems: new Map(s.elems) }])),
    chains: new Map([...t.chains].map(([k, c]) => [k, { ...c, rules: [...c.rules] }])),
  };
}

function refs(expr: unknown): { sets: string[]; chains: string[] } {
  const sets: string[] = [];
  const chains: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string" && v.startsWith("@")) sets.push(v.slice(1));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if ((k === "jump" || k === "goto") && x && typeof x === "object")
          chains.push((x as { target: string }).target);
        else walk(x);
      }
    }
  };
  walk(expr);
  return { sets, chains };
}

function addrRange(e: unknown): [bigint, bigint] | undefined {
  if (typeof e === "string") {
    const a = addrValue(e);
    return a && [a.n, a.n];
  }
  const o = e as Record<string, unknown>;
  if (o["prefix"]) {
    const p = o["prefix"] as { addr: string; len: number };
    const a = addrValue(p.addr);
    return a && [a.n, a.n + (1n << BigInt((a.v6 ? 128 : 32) - p.len)) - 1n];
  }
  if (o["range"]) {
    const [x, y] = o["range"] as [string, string];
    const a = addrValue(x);
    const b = addrValue(y);
    return a && b && [a.n, b.n];
  }
  return undefined;
}

export class FakeNft implements NftBackend {
  private table: FTable | undefined;
  private handle = 1;
  /** Every accepted transaction, in order (the commands without metainfo). */
  readonly transactions: Record<string, unknown>[][] = [];
  /** How many times the table was listed (read back). */
  lists = 0;
  /** When set, the next run (or runElements) fails with this message (fault injection). */
  failNext: string | undefined;
  /** Transactions that came by runElements (they are in `transactions` too). */
  elementTransactions = 0;
  private readonly ref: TableRef;

  constructor(opts: { table?: TableRef } = {}) {
    this.ref = opts.table ?? POLICY_TABLE;
  }

  async run(doc: { nftables: readonly unknown[] }): Promise<void> {
    if (this.failNext !== undefined) {
      const m = this.failNext;
      this.failNext = undefined;
      throw new NftError(m);
    }
    let work: FTable | undefined = this.table ? clone(this.table) : undefined;
    const cmds = doc.nftables.filter((c) => !(c as Record<string, unknown>)["metainfo"]) as Record<
      string,
      Record<string, Record<string, unknown>>
    >[];
    cmds.forEach((c, i) => {
      try {
        work = this.exec(work, c);
      } catch (e) {
        throw new NftError(`command ${i} (${JSON.stringify(c).slice(0, 200)}): ${(e as Error).message}`);
      }
    });
    this.table = work;
    this.transactions.push(cmds);
  }

  /** The element changes as the commands they stand for, applied as one transaction like `run`. */
  async runElements(changes: readonly ElementChange[]): Promise<boolean> {
    await this.run({
      nftables: changes.map((c) => ({
        [c.op]: { element: { family: c.family, table: c.table, name: c.set, elem: c.elements } },
      })),
    });
    this.elementTransactions++;
    return true;
  }

  private exec(
    tbl: FTable | undefined,
    c: Record<string, Record<string, Record<string, unknown>>>,
  ): FTable | undefined {
    const [verb, body] = Object.entries(c)[0] ?? [];
    const [what, obj] = Object.entries(body ?? {})[0] ?? [];
    if (!verb || !what || !obj) throw new Error("malformed command");
    const own =
      obj["family"] === this.ref.family && (what === "table" ? obj["name"] : obj["table"]) === this.ref.name;
    if (!own) throw new Error(`the fake only holds table ${this.ref.family} ${this.ref.name}`);
    if (what === "table") {
      if (verb === "add") return tbl ?? { sets: new Map(), chains: new Map() };
      if (verb === "delete") {
        if (!tbl) throw new Error("No such file or directory (table)");
        return undefined;
      }
      if (verb === "flush") {
        if (!tbl) throw new Error("No such file or directory (table)");
        for (const ch of tbl.chains.values()) ch.rules = [];
        for (const s of tbl.sets.values()) s.elems.clear();
        return tbl;
      }
    }
    if (!tbl) throw new Error("No such file or directory (table)");
    const name = obj["name"] as string;
    switch (`${verb} ${what}`) {
      case "add set":
      case "add map":
        if (!tbl.sets.has(name)) {
          tbl.sets.set(name, {
            name,
            type: obj["type"],
            flags: (obj["flags"] as string[]) ?? [],
            map: what === "map",
            elems: new Map(),
          });
        }
        return tbl;
      case "delete set":
      case "delete map": {
        if (!tbl.sets.has(name)) throw new Error(`No such file or directory (${what} ${name})`);
        for (const ch of tbl.chains.values()) {
          for (const r of ch.rules)
            if (refs(r.expr).sets.includes(name))
              throw new Error(`Device or resource busy (${what} ${name} in use)`);
        }
        tbl.sets.delete(name);
        return tbl;
      }
      case "add chain":
        if (!tbl.chains.has(name)) {
          const base =
            obj["hook"] !== undefined
              ? { type: obj["type"], hook: obj["hook"], prio: obj["prio"], policy: obj["policy"] }
              : undefined;
          tbl.chains.set(name, { name, ...(base ? { base } : {}), rules: [] });
        }
        return tbl;
      case "flush chain": {
        const ch = tbl.chains.get(name);
        if (!ch) throw new Error(`No such file or directory (chain ${name})`);
        ch.rules = [];
        return tbl;
      }
      case "delete chain": {
        const ch = tbl.chains.get(name);
        if (!ch) throw new Error(`No such file or directory (chain ${name})`);
        if (ch.rules.length > 0) throw new Error(`Device or resource busy (chain ${name} not empty)`);
        for (const other of tbl.chains.values()) {
          for (const r of other.rules)
            if (refs(r.expr).chains.includes(name))
              throw new Error(`Device or resource busy (chain ${name} is a jump target)`);
        }
        for (const s of tbl.sets.values()) {
          for (const e of s.elems.values())
            if (refs(e).chains.includes(name))
              throw new Error(`Device or resource busy (chain ${name} is in map ${s.name})`);
        }
        tbl.chains.delete(name);
        return tbl;
      }
      case "add rule": {
        const chain = obj["chain"] as string;
        const ch = tbl.chains.get(chain);
        if (!ch) throw new Error(`No such file or directory (chain ${chain})`);
        const r = refs(obj["expr"]);
        for (const s of r.sets) if (!tbl.sets.has(s)) throw new Error(`No such file or directory (set ${s})`);
        for (const t of r.chains)
          if (!tbl.chains.has(t)) throw new Error(`No such file or directory (chain ${t})`);
        ch.rules.push({
          ...(obj["comment"] !== undefined ? { comment: obj["comment"] as string } : {}),
          expr: obj["expr"] as unknown[],
          handle: this.handle++,
        });
        return tbl;
      }
      case "add element":
      case "delete element": {
        const s = tbl.sets.get(name);
        if (!s) throw new Error(`No such file or directory (set ${name})`);
        for (const e of obj["elem"] as unknown[]) {
          if (s.map) {
            if (verb === "add") {
              const [k, v] = e as [unknown, unknown];
              for (const t of refs(v).chains)
                if (!tbl.chains.has(t)) throw new Error(`No such file or directory (chain ${t})`);
              if (s.elems.has(elemKey(k))) throw new Error(`File exists (map ${name} key ${elemKey(k)})`);
              s.elems.set(elemKey(k), [k, v]);
            } else {
              const k = Array.isArray(e) ? e[0] : e;
              if (!s.elems.delete(elemKey(k)))
                throw new Error(`No such file or directory (element ${elemKey(k)} of ${name})`);
            }
            continue;
          }
          const key = elemKey(e);
          if (verb === "delete") {
            if (!s.elems.delete(key))
              throw new Error(`No such file or directory (element ${key} of ${name})`);
            continue;
          }
          if (
            s.flags.includes("interval") &&
            (s.type === "ipv4_addr" || s.type === "ipv6_addr") &&
            !s.elems.has(key)
          ) {
            const r = addrRange(e);
            if (!r) throw new Error(`bad element ${key}`);
            for (const o of s.elems.values()) {
              const q = addrRange(o);
              if (q && r[0] <= q[1] && q[0] <= r[1])
                throw new Error(`File exists (interval ${key} overlaps ${elemKey(o)})`);
            }
          }
          s.elems.set(key, e);
        }
        return tbl;
      }
    }
    throw new Error(`unsupported command ${verb} ${what}`);
  }

  async listTable(): Promise<{ nftables: unknown[] } | null> {
    this.lists++;
    const t = this.table;
    if (!t) return null;
    const base = { family: this.ref.family, table: this.ref.name };
    const out: unknown[] = [
      { metainfo: { json_schema_version: 1 } },
      { table: { family: this.ref.family, name: this.ref.name } },
    ];
    for (const s of t.sets.values()) {
      const body = {
        ...base,
        name: s.name,
        type: s.type,
        ...(s.flags.length > 0 ? { flags: s.flags } : {}),
        ...(s.map ? { map: "verdict" } : {}),
      };
      const elem = [...s.elems.values()];
      out.push({ [s.map ? "map" : "set"]: elem.length > 0 ? { ...body, elem } : body });
    }
    for (const c of t.chains.values()) out.push({ chain: { ...base, name: c.name, ...(c.base ?? {}) } });
    for (const c of t.chains.values()) {
      for (const r of c.rules) {
        out.push({
          rule: {
            ...base,
            chain: c.name,
            handle: r.handle,
            ...(r.comment !== undefined ? { comment: r.comment } : {}),
            expr: r.expr,
          },
        });
      }
    }
    return { nftables: out };
  }
}
