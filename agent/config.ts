/**
 * trellis-node configuration: an optional YAML/JSON file, overridden by the
 * environment, overridden by flags (docs/architecture.md pins the flags). Validated with
 * zod; a bad value is reported with its field name and the source it came
 * from, and the agent exits 2.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parsePrefix } from "../net/address.js";
import { parseDetectionMethod } from "./bgp/address-detection.js";

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[0-9A-Za-z.-]*):[0-9]{1,5}$/, 'expected "HOST:PORT" (e.g. 127.0.0.1:9099)')
  .refine((s) => Number(s.slice(s.lastIndexOf(":") + 1)) <= 65535, "port must be 0..65535");

export const agentConfigSchema = z.strictObject({
  nodeName: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a DNS-1123 subdomain (lower case, digits, '-', '.')"),
  kubeconfig: z.string().min(1).optional(),
  cniSocket: z.string().startsWith("/", "must be an absolute path"),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]),
  /** Health, readiness and metrics listener ("" disables it). */
  metricsAddress: z.union([z.literal(""), hostPort]).default("127.0.0.1:9099"),
  /** Default MTU of pod veths when the conflist has none. */
  mtu: z.number().int().min(68).max(65535).default(1500),
  /** Never borrow addresses from another node's block. */
  strictAffinity: z.boolean().default(false),
  /** Leak check: period, and how long a pod must be gone before its address is released. */
  leakCheckIntervalSeconds: z.number().positive().max(86400).default(60),
  leakGraceSeconds: z
    .number()
    .min(0)
    .max(86400 * 7)
    .default(300),
  /** Empty affine blocks are released after this long. */
  emptyBlockGraceSeconds: z
    .number()
    .min(0)
    .max(86400 * 7)
    .default(600),
  /** CNI requests served at once (more wait in a queue). */
  cniMaxConcurrent: z.number().int().min(1).max(1024).default(64),
  /** Informer restart backoff bounds. */
  informerBackoffMinMs: z.number().int().min(1).default(200),
  informerBackoffMaxMs: z.number().int().min(1).default(30_000),
  /** Node status (TrellisNodeStatus): at most one write per this many seconds (readiness changes at once). */
  statusIntervalSeconds: z.number().int().min(1).max(3600).default(10),
  /**
   * The cluster's service CIDRs (e.g. ["10.96.0.0/12", "fd00:96::/112"]).
   * natOutgoing never translates traffic to them (agent/nat/), nor to any
   * IPPool. Default empty: set it when pods reach services without kube-proxy
   * rewriting the destination first.
   */
  serviceClusterIPRanges: z
    .array(
      z.string().superRefine((s, ctx) => {
        const p = parsePrefix(s);
        if (typeof p === "string") ctx.addIssue({ code: "custom", message: p });
      }),
    )
    .max(64)
    .default([]),
  /** NetworkPolicy, admin policies and Tenants compiled into nftables (agent/policy/). */
  policy: z
    .strictObject({
      /** false: enforce nothing (another policy engine runs); the table is left alone. */
      enabled: z.boolean().default(true),
      /** Minimum time between two applies (bursts coalesce). */
      minApplyIntervalMs: z.number().int().min(0).max(10_000).default(50),
      /** Full resync: the kernel is read back and repaired. */
      resyncIntervalSeconds: z.number().positive().max(86400).default(60),
      /**
       * Least time between two conntrack walks of revocation (each walks the
       * kernel's whole conntrack hash): a denied established flow is cut off
       * at most this much later than its rules changed.
       */
      revocationIntervalMs: z.number().int().min(0).max(10_000).default(100),
      /** How long a CNI ADD waits for its pod's rules before failing with code 11. */
      addTimeoutMs: z.number().int().min(100).max(300_000).default(10_000),
      /**
       * Element-only transactions (a pod's ADD and DEL) go to the kernel as
       * nf_tables netlink batches from the agent; false sends every
       * transaction through the `nft` process instead (agent/nft/README.md).
       */
      elementsByNetlink: z.boolean().default(true),
    })
    .prefault({}),
  /** The node's BGP speaker (agent/bgp/): advertises its blocks, installs what it learns. */
  bgp: z
    .strictObject({
      /** false: no BGP (another router advertises the pod networks, or a single node). */
      enabled: z.boolean().default(true),
      /**
       * How the node's BGP address is chosen when its Node has no
       * trellis.dev/bgp-ipv4-address / -ipv6-address annotation:
       * interface=REGEX | cidr=CIDR[,CIDR...] | can-reach=IP[,IP...] | first-found.
       */
      addressDetection: z
        .string()
        .refine((s) => typeof parseDetectionMethod(s) !== "string", {
          message: "expected interface=REGEX, cidr=CIDR[,CIDR...], can-reach=IP[,IP...] or first-found",
        })
        .default("first-found"),
      /**
       * The namespace of the Secrets BGPPeers name in `password.secretKeyRef`
       * (read one by one, by name: the agent needs `get` on those Secrets there).
       */
      secretNamespace: z.string().min(1).default("kube-system"),
      /**
       * The speaker's control socket (bgp/control/protocol.ts: peers, routes),
       * for `trellisctl bgp peers|routes --socket`. Default: bgp.sock beside
       * the CNI socket (controlSocketPath).
       */
      controlSocket: z.string().startsWith("/", "must be an absolute path").optional(),
    })
    .prefault({}),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export interface ConfigFlags {
  nodeName?: string;
  kubeconfig?: string;
  cniSocket?: string;
  config?: string;
  logLevel?: string;
}

const ENV: [string, keyof AgentConfig, "string" | "number" | "boolean"][] = [
  ["TRELLIS_NODE_NAME", "nodeName", "string"],
  ["KUBECONFIG", "kubeconfig", "string"],
  ["TRELLIS_CNI_SOCKET", "cniSocket", "string"],
  ["TRELLIS_LOG_LEVEL", "logLevel", "string"],
  ["TRELLIS_METRICS_ADDRESS", "metricsAddress", "string"],
  ["TRELLIS_MTU", "mtu", "number"],
  ["TRELLIS_STRICT_AFFINITY", "strictAffinity", "boolean"],
];

function fromEnvValue(v: string, kind: "string" | "number" | "boolean"): unknown {
  if (kind === "number") return /^-?[0-9.]+$/.test(v) ? Number(v) : v;
  if (kind === "boolean") return v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : v;
  return v;
}

/** Builds the configuration; throws ConfigError naming the field (and its source). */
export function loadConfig(
  flags: ConfigFlags,
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): AgentConfig {
  const merged: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  if (flags.config !== undefined) {
    let text: string;
    try {
      text = readFile(flags.config);
    } catch (e) {
      throw new ConfigError(`--config ${flags.config}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new ConfigError(
        `--config ${flags.config}: not valid YAML/JSON: ${(e as Error).message.split("\n")[0]}`,
      );
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== "object" || Array.isArray(doc)) {
        throw new ConfigError(`--config ${flags.config}: expected a mapping of settings`);
      }
      for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
        merged[k] = v;
        source[k] = `config file ${flags.config}`;
      }
    }
  }
  for (const [name, key, kind] of ENV) {
    const v = env[name];
    if (v !== undefined && v !== "") {
      merged[key] = fromEnvValue(v, kind);
      source[key] = `env ${name}`;
    }
  }
  const flagMap: [keyof ConfigFlags, keyof AgentConfig, string][] = [
    ["nodeName", "nodeName", "--node-name"],
    ["kubeconfig", "kubeconfig", "--kubeconfig"],
    ["cniSocket", "cniSocket", "--cni-socket"],
    ["logLevel", "logLevel", "--log-level"],
  ];
  for (const [f, key, flag] of flagMap) {
    const v = flags[f];
    if (v !== undefined) {
      merged[key] = v;
      source[key] = flag;
    }
  }
  const pe = env["TRELLIS_POLICY_ENABLED"];
  if (pe !== undefined && pe !== "") {
    const cur = merged["policy"];
    merged["policy"] = {
      ...(typeof cur === "object" && cur !== null ? cur : {}),
      enabled: fromEnvValue(pe, "boolean"),
    };
    source["policy"] = "env TRELLIS_POLICY_ENABLED";
  }
  merged["nodeName"] ??= hostname().toLowerCase();
  merged["cniSocket"] ??= "/var/run/trellis/cni.sock";
  merged["logLevel"] ??= "info";
  const r = agentConfigSchema.safeParse(merged);
  if (!r.success) {
    const msgs = r.error.issues.map((i) => {
      if (i.code === "unrecognized_keys") {
        // Only a config file can carry an unknown key (flags and env are fixed
        // lists): name the keys where they stand and the file they came from.
        return i.keys
          .map((k) => {
            const at = [...i.path, k].join(".");
            const from = source[String(i.path[0] ?? k)];
            return `${at}${from !== undefined ? ` (from ${from})` : ""}: unknown setting`;
          })
          .join("; ");
      }
      const field = i.path.join(".") || "(root)";
      const from = source[String(i.path[0])];
      return `${field}${from !== undefined ? ` (from ${from})` : ""}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${msgs.join("; ")}`);
  }
  return r.data;
}
