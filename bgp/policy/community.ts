// Text forms of communities used in filters and `originate:`: RFC 1997
// "ASN:VALUE" (and the well-known names), RFC 8092 "GLOBAL:LOCAL1:LOCAL2".
import type { LargeCommunity } from "../wire/types.js";

const WELL_KNOWN: Record<string, number> = {
  "no-export": 0xffffff01,
  "no-advertise": 0xffffff02,
  "no-export-subconfed": 0xffffff03,
  nopeer: 0xffffff04,
};

function part(s: string, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

/** uint32 community value, or undefined when the text is not one. */
export function parseCommunity(s: string): number | undefined {
  const wk = WELL_KNOWN[s.toLowerCase()];
  if (wk !== undefined) return wk;
  const m = s.split(":");
  if (m.length !== 2) return undefined;
  const hi = part(m[0]!, 0xffff);
  const lo = part(m[1]!, 0xffff);
  if (hi === undefined || lo === undefined) return undefined;
  return (hi * 0x10000 + lo) >>> 0;
}

export function formatCommunity(c: number): string {
  for (const [name, v] of Object.entries(WELL_KNOWN)) if (v === c) return name;
  return `${Math.floor(c / 0x10000)}:${c & 0xffff}`;
}

export function parseLargeCommunity(s: string): LargeCommunity | undefined {
  const m = s.split(":");
  if (m.length !== 3) return undefined;
  const g = part(m[0]!, 0xffffffff);
  const a = part(m[1]!, 0xffffffff);
  const b = part(m[2]!, 0xffffffff);
  if (g === undefined || a === undefined || b === undefined) return undefined;
  return { global: g, local1: a, local2: b };
}

export function formatLargeCommunity(l: LargeCommunity): string {
  return `${l.global}:${l.local1}:${l.local2}`;
}

export function sameLargeCommunity(a: LargeCommunity, b: LargeCommunity): boolean {
  return a.global === b.global && a.local1 === b.local1 && a.local2 === b.local2;
}
