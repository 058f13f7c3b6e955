/**
 * IPAM custom resources (`trellis.dev/v1alpha1`): IPPool, IPAMBlock and
 * BlockAffinity. The zod schemas mirror crds/manifests/*.trellis.dev.yaml and
 * add what OpenAPI cannot say (a CIDR's host bits are zero, a block size fits
 * the pool's family, a selector parses). Types are inferred from the schemas.
 */
import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";

export const IPAM_GROUP = "trellis.dev";
export const IPAM_VERSION = "v1alpha1";
export const IPAM_API_VERSION = `${IPAM_GROUP}/${IPAM_VERSION}`;

export type IpFamily = 4 | 6;

/** A parsed network: family, first address as a bigint, prefix length. */
export interface Cidr {
  family: IpFamily;
  base: bigint;
  prefix: number;
}

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** Parses a dotted-quad or RFC 4291 §2.2 textual IPv6 address into a bigint. */
export function parseIp(text: string): { family: IpFamily; value: bigint } | undefined {
  if (isIPv4(text)) {
    let v = 0n;
    for (const part of text.split(".")) v = (v << 8n) | BigInt(Number(part));
    return { family: 4, value: v };
  }
  if (!isIPv6(text)) return undefined;
  let s = text;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  if (tail.includes(".")) {
    const v4 = parseIp(tail);
    if (v4 === undefined) return undefined;
    const hi = Number(v4.value >> 16n).toString(16);
    const lo = Number(v4.value & 0xffffn).toString(16);
    s = `${s.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const [head = "", rest] = s.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const restGroups = rest === undefined || rest === "" ? [] : rest.split(":");
  const missing = 8 - headGroups.length - restGroups.length;
  const groups =
    rest === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill("0"), ...restGroups];
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  return { family: 6, value: v };
}

/** Formats an address: dotted quad, or RFC 5952 canonical IPv6 text. */
export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join(".");
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952 §4.2: compress the longest run (>= 2) of zero groups, the first on a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** Parses "a.b.c.d/n" or "x::/n"; returns the reason when it is not a valid network. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf("/");
  if (slash < 0) return `"${text}" has no prefix length (expected ADDRESS/LENGTH)`;
  const ip = parseIp(text.slice(0, slash));
  if (ip === undefined) return `"${text.slice(0, slash)}" is not an IPv4 or IPv6 address`;
  const lenText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(lenText)) return `prefix length "${lenText}" is not a number`;
  const prefix = Number(lenText);
  const bits = familyBits(ip.family);
  if (prefix > bits) return `prefix length ${prefix} exceeds ${bits} for IPv${ip.family}`;
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((ip.value & hostMask) !== 0n) {
    return `host bits are set in ${text} (the network is ${formatIp(ip.family, ip.value & ~hostMask)}/${prefix})`;
  }
  return { family: ip.family, base: ip.value, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.base)}/${c.prefix}`;
}

export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(familyBits(c.family) - c.prefix);
}

export function cidrContains(c: Cidr, family: IpFamily, value: bigint): boolean {
  return family === c.family && value >= c.base && value < c.base + cidrSize(c);
}

/** Two networks share an address: of one family, and neither ends before the other starts. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);
}

/** `inner` lies wholly inside `outer`. */
export function cidrInside(inner: Cidr, outer: Cidr): boolean {
  return (
    inner.family === outer.family &&
    inner.base >= outer.base &&
    inner.base + cidrSize(inner) <= outer.base + cidrSize(outer)
  );
}

/**
 * The IPAMBlock (and BlockAffinity suffix) name for a block CIDR: every
 * character that a DNS-1123 subdomain forbids becomes "-" (10.244.0.64/26 ->
 * 10-244-0-64-26, fd00::40/122 -> fd00--40-122). Injective for canonical
 * CIDR text, so the name is the claim.
 */
export function blockName(cidr: string): string {
  return cidr.toLowerCase().replace(/[^0-9a-z]/g, "-");
}

export function affinityName(node: string, cidr: string): string {
  return `${node}-${blockName(cidr)}`;
}

// ---------------------------------------------------------------------------
// Label selectors (Kubernetes string syntax) for nodeSelector/namespaceSelector.

export type SelectorTerm =
  | { op: "eq" | "neq"; key: string; value: string }
  | { op: "in" | "notin"; key: string; values: string[] }
  | { op: "exists" | "notexists"; key: string };

const KEY = String.raw`[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VAL = String.raw`([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const termPatterns: [RegExp, (m: RegExpMatchArray) => SelectorTerm][] = [
  [new RegExp(`^(${KEY})\\s*(==|=)\\s*(${VAL})$`), (m) => ({ op: "eq", key: m[1] ?? "", value: m[4] ?? "" })],
  [new RegExp(`^(${KEY})\\s*!=\\s*(${VAL})$`), (m) => ({ op: "neq", key: m[1] ?? "", value: m[3] ?? "" })],
  [
    new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^()]*)\\)$`),
    (m) => ({
      op: m[3] === "in" ? "in" : "notin",
      key: m[1] ?? "",
      values: (m[4] ?? "").split(",").map((v) => v.trim()),
    }),
  ],
  [new RegExp(`^!\\s*(${KEY})$`), (m) => ({ op: "notexists", key: m[1] ?? "" })],
  [new RegExp(`^(${KEY})$`), (m) => ({ op: "exists", key: m[1] ?? "" })],
];

/** Parses "a=b,c!=d,e in (x,y),!f,g"; "" and "all()" select everything. */
export function parseSelector(text: string): SelectorTerm[] | string {
  const t = text.trim();
  if (t === "" || t === "all()") return [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of t) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  const terms: SelectorTerm[] = [];
  for (const raw of parts) {
    const p = raw.trim();
    const row = termPatterns.find(([re]) => re.test(p));
    const m = row ? p.match(row[0]) : null;
    if (!row || !m) return `cannot parse selector term "${p}"`;
    terms.push(row[1](m));
  }
  return terms;
}

export function selectorMatches(
  terms: readonly SelectorTerm[],
  labels: Readonly<Record<string, string>>,
): boolean {
  return terms.every((t) => {
    const v = labels[t.key];
    switch (t.op) {
      case "eq":
        return v === t.value;
      case "neq":
        return v !== t.value;
      case "in":
        return v !== undefined && t.values.includes(v);
      case "notin":
        return v === undefined || !t.values.includes(v);
      case "exists":
        return v !== undefined;
      case "notexists":
        return v === undefined;
    }
  });
}

// ---------------------------------------------------------------------------
// Schemas.

const metadataSchema = z
  .object({
    name: z.string().min(1),
    resourceVersion: z.string().optional(),
    uid: z.string().optional(),
    creationTimestamp: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

const cidrText = z.string().superRefine((s, ctx) => {
  const c = parseCidr(s);
  if (typeof c === "string") ctx.addIssue({ code: "custom", message: c });
});

const selectorText = z.string().superRefine((s, ctx) => {
  const r = parseSelector(s);
  if (typeof r === "string") ctx.addIssue({ code: "custom", message: r });
});

/** Allowed block sizes per family (a block must hold 1 … 4096 addresses). */
export const BLOCK_SIZE_RANGE: Record<IpFamily, [number, number]> = { 4: [20, 32], 6: [116, 128] };
export const DEFAULT_BLOCK_SIZE: Record<IpFamily, number> = { 4: 26, 6: 122 };

export const ipPoolSpecSchema = z
  .object({
    cidr: cidrText,
    blockSize: z.number().int().optional(),
    disabled: z.boolean().optional(),
    nodeSelector: selectorText.optional(),
    namespaceSelector: selectorText.optional(),
    natOutgoing: z.boolean().optional(),
    strictAffinity: z.boolean().optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const c = parseCidr(spec.cidr);
    if (typeof c === "string") return;
    const [lo, hi] = BLOCK_SIZE_RANGE[c.family];
    const size = spec.blockSize ?? DEFAULT_BLOCK_SIZE[c.family];
    if (size < lo || size > hi) {
      ctx.addIssue({
        code: "custom",
        path: ["blockSize"],
        message: `block size /${size} is outside ${lo}..${hi} for an IPv${c.family} pool`,
      });
    } else if (size < c.prefix) {
      ctx.addIssue({
        code: "custom",
        path: ["blockSize"],
        message: `block size /${size} is larger than the pool ${spec.cidr}`,
      });
    }
  });

export const ipPoolSchema = z.object({
  apiVersion: z.literal(IPAM_API_VERSION).optional(),
  kind: z.literal("IPPool").optional(),
  metadata: metadataSchema,
  spec: ipPoolSpecSchema,
});
export type IPPool = z.infer<typeof ipPoolSchema>;

export const allocationSchema = z.object({
  ordinal: z.number().int().min(0).max(4095),
  handle: z.string().min(1).max(320),
  attributes: z
    .object({
      namespace: z.string().optional(),
      pod: z.string().optional(),
      containerID: z.string().optional(),
      ifname: z.string().optional(),
      node: z.string().optional(),
      timestamp: z.string().optional(),
    })
    .optional(),
});
export type Allocation = z.infer<typeof allocationSchema>;

/**
 * A block's claim state. "pending" while its claimer checks that no older
 * claim overlaps it (agent/ipam/claim-protocol.ts); nobody allocates into a
 * pending block. Absent means confirmed: blocks written before the state
 * existed were claimed by name alone and stay valid.
 */
export const BLOCK_STATES = ["pending", "confirmed"] as const;
export type BlockState = (typeof BLOCK_STATES)[number];

export const ipamBlockSchema = z.object({
  apiVersion: z.literal(IPAM_API_VERSION).optional(),
  kind: z.literal("IPAMBlock").optional(),
  metadata: metadataSchema,
  spec: z.object({
    cidr: cidrText,
    pool: z.string(),
    affinity: z.string().optional(),
    strictAffinity: z.boolean().optional(),
    state: z.enum(BLOCK_STATES).optional(),
    allocations: z.array(allocationSchema).max(4096),
  }),
});
export type IPAMBlock = z.infer<typeof ipamBlockSchema>;

export const AFFINITY_STATES = ["pending", "confirmed", "pendingDeletion"] as const;
export const blockAffinitySchema = z.object({
  apiVersion: z.literal(IPAM_API_VERSION).optional(),
  kind: z.literal("BlockAffinity").optional(),
  metadata: metadataSchema,
  spec: z.object({
    node: z.string().min(1),
    cidr: cidrText,
    state: z.enum(AFFINITY_STATES),
  }),
});
export type BlockAffinity = z.infer<typeof blockAffinitySchema>;

/** "host:<node>" affinity marker (Calico's convention, kept so tools read it). */
export function hostAffinity(node: string): string {
  return `host:${node}`;
}

export function affinityNode(affinity: string | undefined): string | undefined {
  return affinity?.startsWith("host:") ? affinity.slice(5) : undefined;
}

/** A block is pending only while its claim is being checked; absent state = confirmed. */
export function blockPending(b: IPAMBlock): boolean {
  return b.spec.state === "pending";
}

/** Formats a zod error as "path: message; path: message" naming every field. */
export function describeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`).join("; ");
}

/** Validates an IPPool and returns it, or the reason it is rejected. */
export function validatePool(obj: unknown): { ok: true; pool: IPPool } | { ok: false; reason: string } {
  const r = ipPoolSchema.safeParse(obj);
  return r.success ? { ok: true, pool: r.data } : { ok: false, reason: describeIssues(r.error) };
}
