/**
 * Table content as `nft -f` text (`trellisctl policy compile -o nft`): for
 * people reading the ruleset; the agent applies the JSON form.
 */
import type { NftTable } from "./nft-table.js";
import { TABLE_NAME } from "./nft-table.js";

function val(v: unknown): string {
  // Set references (`@name`) and plain words bare; anything else (`trl*`) quoted.
  if (typeof v === "string") return /^@?[a-z0-9_.:/-]+$/i.test(v) && !v.includes("*") ? v : JSON.stringify(v);
  if (typeof v === "number") return String(v);
  if (Array.isArray(v)) return `{ ${v.map(val).join(", ")} }`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if ("prefix" in o) {
      const p = o["prefix"] as { addr: string; len: number };
      return `${p.addr}/${p.len}`;
    }
    if ("range" in o) return (o["range"] as unknown[]).map(val).join("-");
    if ("concat" in o) return (o["concat"] as unknown[]).map(val).join(" . ");
    if ("meta" in o) {
      const k = (o["meta"] as { key: string }).key;
      return k === "iifname" || k === "oifname" ? k : `meta ${k}`;
    }
    if ("payload" in o) {
      const p = o["payload"] as { protocol: string; field: string };
      return `${p.protocol} ${p.field}`;
    }
    if ("ct" in o) return `ct ${(o["ct"] as { key: string }).key}`;
    if ("&" in o) {
      const [a, b] = o["&"] as [unknown, unknown];
      return `${val(a)} & ${typeof b === "number" ? `0x${b.toString(16)}` : val(b)}`;
    }
  }
  return JSON.stringify(v);
}

function expr(e: unknown): string {
  const o = e as Record<string, unknown>;
  const [k, v] = Object.entries(o)[0] ?? ["", null];
  switch (k) {
    case "match": {
      const m = v as { op: string; left: unknown; right: unknown };
      const right = Array.isArray(m.right) ? (m.right as unknown[]).map(val).join(",") : val(m.right);
      // After a bitwise expression the operator is spelled out (`ct mark & 0x10000000 == 0`).
      const implicit = (m.op === "==" || m.op === "in") && !("&" in (m.left as object));
      const hex = typeof m.right === "number" && "&" in (m.left as object);
      return `${val(m.left)} ${implicit ? "" : `${m.op} `}${hex ? `0x${(m.right as number).toString(16)}` : right}`;
    }
    case "counter":
      return "counter";
    case "log":
      return `log prefix ${JSON.stringify((v as { prefix: string }).prefix)}`;
    case "vmap": {
      const m = v as { key: unknown; data: string };
      return `${val(m.key)} vmap ${m.data}`;
    }
    case "jump":
    case "goto":
      return `${k} ${(v as { target: string }).target}`;
    default:
      return k;
  }
}

function verdict(v: unknown): string {
  return expr(v);
}

export function renderNftText(t: NftTable): string {
  const lines: string[] = [`table inet ${TABLE_NAME} {`];
  for (const s of t.sets) {
    const type = Array.isArray(s.type) ? s.type.join(" . ") : String(s.type);
    lines.push(`\tset ${s.name} {`, `\t\ttype ${type}`);
    if (s.flags && s.flags.length > 0) lines.push(`\t\tflags ${s.flags.join(",")}`);
    if (s.elements.length > 0) lines.push(`\t\telements = { ${s.elements.map(val).join(", ")} }`);
    lines.push("\t}");
  }
  for (const m of t.maps) {
    lines.push(`\tmap ${m.name} {`, `\t\ttype ${String(m.type)} : verdict`);
    if (m.elements.length > 0)
      lines.push(`\t\telements = { ${m.elements.map(([k, v]) => `${val(k)} : ${verdict(v)}`).join(", ")} }`);
    lines.push("\t}");
  }
  for (const c of t.chains) {
    lines.push(`\tchain ${c.name} {`);
    if (c.base)
      lines.push(
        `\t\ttype ${c.base.type} hook ${c.base.hook} priority ${c.base.prio}; policy ${c.base.policy};`,
      );
    for (const r of c.rules) lines.push(`\t\t${r.expr.map(expr).join(" ")} comment "${r.comment}"`);
    lines.push("\t}");
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
