/**
 * The `trellis-bgp --config FILE` schema (YAML or JSON), validated with zod at
 * the trust boundary. Every error names the path of the bad field, e.g.
 * `peers[1].asn: must be 1..4294967295`.
 */
import { isIPv4, isIPv6 } from "node:net";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { FilterSchema, type Filter } from "./policy/index.js";
import { isAddressError, parseListenAddress } from "../net/listen-address.js";
import { formatAddress, formatPrefix, parseAddress, parsePrefix, parsePrefixLoose } from "../net/address.js";
import { PROTO_TRELLIS_BGP, TABLE_MAIN } from "../net/route-ownership.js";

const asn = z
  .number({ error: "must be a number 1..4294967295" })
  .int({ error: "must be 1..4294967295" })
  .min(1, { error: "must be 1..4294967295" })
  .max(4294967295, { error: "must be 1..4294967295" });
const ipv4 = z.string().refine((s) => isIPv4(s), { error: "must be an IPv4 address" });
const ipAddr = z.string().refine((s) => isIPv4(s) || isIPv6(s), { error: "must be an IPv4 or IPv6 address" });
const port = z.number().int().min(1, { error: "must be 1..65535" }).max(65535, { error: "must be 1..65535" });
/** RFC 4271 §4.2: zero, or at least three seconds. */
const holdTime = z
  .number()
  .int()
  .refine((h) => h === 0 || (h >= 3 && h <= 65535), { error: "must be 0 or 3..65535" });
const u16 = (what: string): z.ZodNumber =>
  z
    .number()
    .int()
    .min(0, { error: `${what} must be 0..65535` })
    .max(65535, { error: `${what} must be 0..65535` });
const u32 = z
  .number()
  .int()
  .min(0, { error: "must be 0..4294967295" })
  .max(4294967295, { error: "must be 0..4294967295" });

/**
 * An originated prefix, stored in canonical text so that the reload diff
 * (keyed on the prefix) never sees one route under two spellings: with
 * "2001:DB8::/32" in the old file and "2001:db8::/32" in the new one, the
 * withdraw of the old spelling would otherwise remove the route just kept.
 * Host bits are refused rather than masked (as BIRD does): "10.1.0.1/24" is
 * more likely a typo than a wish to announce 10.1.0.0/24.
 */
const prefix = z.string().transform((s, ctx) => {
  // net/address.ts parsePrefix: the strict entry point (host bits rejected).
  const p = parsePrefix(s);
  if (typeof p !== "string") return formatPrefix(p);
  const masked = parsePrefixLoose(s);
  ctx.addIssue({
    code: "custom",
    message:
      typeof masked === "string"
        ? "must be a prefix like 10.0.0.0/24 or 2001:db8::/48"
        : `host bits set: did you mean ${formatPrefix(masked)}?`,
  });
  return z.NEVER;
});

const COMMUNITY_WELL_KNOWN = ["no-export", "no-advertise", "no-export-subconfed", "nopeer"];
function communityOk(s: string): boolean {
  if (COMMUNITY_WELL_KNOWN.includes(s)) return true;
  const m = /^(\d+):(\d+)$/.exec(s);
  return !!m && Number(m[1]) <= 65535 && Number(m[2]) <= 65535;
}
const community = z.string().refine(communityOk, {
  error: "must be ASN:VALUE (each 0..65535) or no-export|no-advertise|no-export-subconfed",
});
function largeOk(s: string): boolean {
  const m = /^(\d+):(\d+):(\d+)$/.exec(s);
  return !!m && [m[1], m[2], m[3]].every((x) => Number(x) <= 4294967295);
}
const largeCommunity = z
  .string()
  .refine(largeOk, { error: "must be GLOBAL:LOCAL1:LOCAL2 (each 0..4294967295)" });

export const FAMILIES = ["ipv4-unicast", "ipv6-unicast"] as const;
export type FamilyName = (typeof FAMILIES)[number];

/** Import/export filters: the bgp/policy filter language (see bgp/policy/schema.ts). */
export const filterSchema = FilterSchema;
export type FilterConfig = Filter;

const peerSchema = z
  .object({
    address: ipAddr,
    asn,
    port: port.default(179),
    localAddress: ipAddr.optional(),
    passive: z.boolean().default(false),
    families: z.array(z.enum(FAMILIES)).min(1).default(["ipv4-unicast", "ipv6-unicast"]),
    holdTime: holdTime.optional(),
    keepaliveTime: z.number().int().min(1).optional(),
    connectRetryTime: z.number().int().min(1).optional(),
    /** RFC 4271 §8.1.1 DelayOpen: wait this long for the peer's OPEN before sending ours. */
    delayOpenTime: z.number().int().min(1).max(240).optional(),
    routeReflectorClient: z.boolean().default(false),
    nextHopSelf: z.boolean().default(false),
    maxPrefixes: z.number().int().min(1).optional(),
    /** RFC 2385 TCP MD5 signature key, 1..80 bytes of UTF-8 (Linux TCP_MD5SIG_MAXKEYLEN). */
    password: z
      .string()
      .refine((s) => s.length > 0 && Buffer.byteLength(s, "utf8") <= 80, { error: "must be 1..80 bytes" })
      .optional(),
    /** RFC 5082 GTSM: the peer is at most this many hops away; we send TTL 255 and accept >= 256 - hops. */
    ttlSecurity: z
      .number({ error: "must be a number of hops 1..254" })
      .int({ error: "must be a number of hops 1..254" })
      .min(1, { error: "must be a number of hops 1..254" })
      .max(254, { error: "must be a number of hops 1..254" })
      .optional(),
    /**
     * RFC 5880/5881/5882: a single-hop BFD session to the peer; the BGP session goes
     * down when BFD declares the path down. true = 300 ms x 3 (BIRD's and FRR's default).
     */
    bfd: z
      .union([
        z.boolean(),
        z
          .object({
            minTxMs: z.number().int().min(10, { error: "must be 10..60000 ms" }).max(60_000).default(300),
            minRxMs: z.number().int().min(10, { error: "must be 10..60000 ms" }).max(60_000).default(300),
            multiplier: z.number().int().min(1, { error: "must be 1..255" }).max(255).default(3),
          })
          .strict(),
      ])
      .optional(),
    /** RFC 4724 §4.2: keep this peer's stale routes at most this long (s), whatever Restart Time it advertises. */
    maxRestartTime: u16("maxRestartTime").optional(),
    import: filterSchema.optional(),
    export: filterSchema.optional(),
    description: z.string().optional(),
  })
  .strict();
export type PeerConfigFile = z.infer<typeof peerSchema>;

const originSchema = z
  .object({
    prefix,
    communities: z.array(community).default([]),
    largeCommunities: z.array(largeCommunity).default([]),
    localPref: u32.optional(),
    med: u32.optional(),
  })
  .strict();
export type OriginConfig = z.infer<typeof originSchema>;

export const configSchema = z
  .object({
    asn,
    routerId: ipv4,
    clusterId: ipv4.optional(),
    // port 0: any free port (logged at start; tests use it).
    listen: z
      .object({
        address: ipAddr.default("0.0.0.0"),
        port: z
          .number()
          .int()
          .min(0, { error: "must be 0..65535" })
          .max(65535, { error: "must be 0..65535" })
          .default(179),
      })
      .strict()
      .optional(),
    holdTime: holdTime.default(90),
    keepaliveTime: z.number().int().min(1).optional(),
    connectRetryTime: z.number().int().min(1).default(30),
    /** Automatic restart after an error: exponential from initialMs up to maxMs, ±jitter/2. */
    restartBackoff: z
      .object({
        initialMs: z.number().int().min(100).default(1000),
        maxMs: z.number().int().min(100).default(120_000),
        jitter: z.number().min(0).max(1).default(0.25),
      })
      .strict()
      .refine((b) => b.initialMs <= b.maxMs, { error: "initialMs must be <= maxMs" })
      .optional(),
    gracefulRestart: z
      .object({
        enabled: z.boolean().default(false),
        restartTime: u16("restartTime").max(4095, { error: "must be 0..4095" }).default(120),
        /** How long to wait for End-of-RIB from peers after our own restart before selecting routes. */
        selectionDeferralTime: z.number().int().min(1).default(360),
      })
      .strict()
      .default({ enabled: false, restartTime: 120, selectionDeferralTime: 360 }),
    fib: z
      .object({
        enabled: z.boolean().default(false),
        table: z.number().int().min(1).max(4294967295).default(TABLE_MAIN),
        ecmp: z.boolean().default(true),
        /**
         * rtnetlink protocol number of routes we install: PROTO_TRELLIS_BGP (202), so
         * a speaker beside the agent never sweeps the agent's proto 201 pod routes.
         */
        protocol: z.number().int().min(1).max(255).default(PROTO_TRELLIS_BGP),
        /** Install routes in this network namespace (a name under /var/run/netns, or a path; tests, the lab); absent = our own. */
        netns: z.string().optional(),
      })
      .strict()
      .default({ enabled: false, table: TABLE_MAIN, ecmp: true, protocol: PROTO_TRELLIS_BGP }),
    control: z
      .object({ socket: z.string().min(1) })
      .strict()
      .optional(),
    /**
     * Prometheus /metrics listener, "HOST:PORT" ("[::]:9179" for IPv6); "" (the
     * default) serves none: several speakers often share a host (lab, tests,
     * benchmarks), and a fixed default port would stop the second one.
     */
    metricsAddress: z
      .string()
      .superRefine((s, ctx) => {
        const r = parseListenAddress(s);
        if (isAddressError(r)) ctx.addIssue({ code: "custom", message: r.message });
      })
      .default(""),
    peers: z.array(peerSchema).default([]),
    originate: z.array(originSchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.peers.forEach((p, i) => {
      // Compared canonically: "2001:db8::1" and "2001:DB8:0::1" are one peer.
      const a = parseAddress(p.address);
      const key = typeof a === "string" ? p.address : formatAddress(a);
      const prev = seen.get(key);
      if (prev !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["peers", i, "address"],
          message: `duplicate of peers[${prev}]`,
        });
      }
      seen.set(key, i);
    });
    // Two entries for one prefix: one would silently win, and a reload that
    // drops either would withdraw the route the other still asks for.
    const origins = new Map<string, number>();
    c.originate.forEach((o, i) => {
      const prev = origins.get(o.prefix);
      if (prev !== undefined)
        ctx.addIssue({
          code: "custom",
          path: ["originate", i, "prefix"],
          message: `duplicate of originate[${prev}]`,
        });
      origins.set(o.prefix, i);
    });
  });
export type SpeakerConfigFile = z.infer<typeof configSchema>;

/** A configuration error: one line per bad field, each with its path. */
export class ConfigError extends Error {
  readonly code = "TRELLIS_EBGPCONFIG";
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

/** `peers[1].asn` from zod's ["peers", 1, "asn"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const k of path) {
    if (typeof k === "number") out += `[${k}]`;
    else out += out === "" ? String(k) : `.${String(k)}`;
  }
  return out === "" ? "(top level)" : out;
}

/** Parse the text of a config file (YAML is a superset of JSON). Throws ConfigError. */
export function parseConfig(text: string): SpeakerConfigFile {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError([
      `not valid YAML or JSON: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
    ]);
  }
  const r = configSchema.safeParse(raw ?? {});
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${formatPath(i.path)}: ${issueMessage(i, raw)}`));
  }
  return r.data;
}

function issueMessage(i: z.core.$ZodIssue, raw: unknown): string {
  if (i.code === "unrecognized_keys") return `unknown field(s) ${i.keys.join(", ")}`;
  if (i.code === "invalid_type" && valueAt(raw, i.path) === undefined) return "is required";
  return i.message;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** What a reload must do (SIGHUP): computed from the old and new file, nothing else. */
export interface ConfigDiff {
  addPeers: PeerConfigFile[];
  removePeers: string[];
  /** Peers present in both whose settings differ (the speaker decides reset vs in place). */
  changePeers: PeerConfigFile[];
  /** Origins new or changed (communities etc.): (re-)originate. */
  originate: OriginConfig[];
  /** Origins gone. */
  withdraw: string[];
  /** Top-level settings that need a restart of the daemon to apply (asn, routerId, listen, fib, control, metricsAddress). */
  restartNeeded: string[];
}

export function diffConfig(a: SpeakerConfigFile, b: SpeakerConfigFile): ConfigDiff {
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y);
  const oldPeers = new Map(a.peers.map((p) => [p.address, p]));
  const newPeers = new Map(b.peers.map((p) => [p.address, p]));
  // Global session settings are inherited by every peer: a change there changes every peer.
  const globalChanged = !same(
    [a.holdTime, a.keepaliveTime, a.connectRetryTime, a.gracefulRestart, a.restartBackoff],
    [b.holdTime, b.keepaliveTime, b.connectRetryTime, b.gracefulRestart, b.restartBackoff],
  );
  const oldOrig = new Map(a.originate.map((o) => [o.prefix, o]));
  const newOrig = new Map(b.originate.map((o) => [o.prefix, o]));
  const restartNeeded = (
    ["asn", "routerId", "clusterId", "listen", "fib", "control", "metricsAddress"] as const
  ).filter((k) => !same(a[k], b[k]));
  return {
    addPeers: b.peers.filter((p) => !oldPeers.has(p.address)),
    removePeers: a.peers.filter((p) => !newPeers.has(p.address)).map((p) => p.address),
    changePeers: b.peers.filter((p) => {
      const o = oldPeers.get(p.address);
      return o !== undefined && (globalChanged || !same(o, p));
    }),
    originate: b.originate.filter((o) => !same(oldOrig.get(o.prefix), o)),
    withdraw: a.originate.filter((o) => !newOrig.has(o.prefix)).map((o) => o.prefix),
    restartNeeded,
  };
}
