/**
 * IP addresses and CIDRs as big integers, for the checks the API server
 * makes on them (netutils.ParseCIDR, "must be a strict subset of cidr",
 * the `ipv4`/`ipv6`/`cidr` schema formats). Pure.
 */
import { isIP } from "node:net";

export interface Cidr {
  family: 4 | 6;
  base: bigint;
  bits: number;
}

export function ipToBigInt(ip: string): { family: 4 | 6; value: bigint } | undefined {
  const fam = isIP(ip);
  if (fam === 4) {
    const parts = ip.split(".").map(Number);
    return { family: 4, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (fam === 6) {
    let s = ip;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
    if (v4 !== null) {
      const n = ipToBigInt(v4[1] ?? "");
      if (n === undefined) return undefined;
      s =
        s.slice(0, -(v4[1] ?? "").length) +
        `${((n.value >> 16n) & 0xffffn).toString(16)}:${(n.value & 0xffffn).toString(16)}`;
    }
    const [head, tail] = s.split("::");
    const h = head === undefined || head === "" ? [] : head.split(":");
    const t = tail === undefined || tail === "" ? [] : tail.split(":");
    const groups = s.includes("::") ? [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t] : h;
    return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
  }
  return undefined;
}

/** netutils.ParseCIDR: address/prefix with a prefix length within the family's size. */
export function parseCidr(s: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (m === null) return undefined;
  const ip = ipToBigInt(m[1] ?? "");
  const bits = Number(m[2]);
  if (ip === undefined || bits > (ip.family === 4 ? 32 : 128)) return undefined;
  const width = BigInt(ip.family === 4 ? 32 : 128);
  const mask = ((1n << BigInt(bits)) - 1n) << (width - BigInt(bits));
  return { family: ip.family, base: ip.value & mask, bits };
}
