/**
 * **Pure**: the node's BGP addresses, one per family, from injected kernel
 * facts. Order: the Node's annotation (`trellis.dev/bgp-ipv4-address`,
 * `trellis.dev/bgp-ipv6-address`) > the agent config's `bgp.addressDetection`:
 *
 * - `interface=REGEX`: the first global address of the first interface (by
 *   name) whose whole name matches REGEX;
 * - `cidr=CIDR[,CIDR…]`: the first global address inside one of the CIDRs;
 * - `can-reach=IP[,IP…]`: the source address the kernel picks toward the IP of
 *   that family (`ip route get`, done by the shell); a family without an IP
 *   falls back to first-found;
 * - `first-found` (default): the first global address of the first interface
 *   that is not loopback or a container/pod interface.
 *
 * The chosen address and how it was chosen are returned (for status and logs).
 */
import { parseAddress, parsePrefix, contains, type Family } from "../../net/address.js";

export const ANNOTATION_BGP_IPV4 = "trellis.dev/bgp-ipv4-address";
export const ANNOTATION_BGP_IPV6 = "trellis.dev/bgp-ipv6-address";

export interface InterfaceFacts {
  name: string;
  /** addresses without prefix length, in kernel order */
  addresses: string[];
}

export interface KernelFacts {
  interfaces: InterfaceFacts[];
  /** can-reach results: destination IP -> source address the kernel would use */
  sourceFor: Readonly<Record<string, string>>;
}

export interface ChosenAddress {
  address: string;
  method: string;
}

export interface BgpAddresses {
  ipv4?: ChosenAddress;
  ipv6?: ChosenAddress;
}

/** Interfaces first-found skips: loopback and the interfaces of pods, bridges and container runtimes. */
const SKIP = /^(lo|trl.*|veth.*|docker.*|cni.*|podman.*|cali.*|virbr.*|kube-ipvs.*|flannel.*|vxlan.*|br-.*)$/;

export type DetectionMethod =
  | { kind: "first-found" }
  | { kind: "interface"; regex: RegExp; text: string }
  | { kind: "cidr"; cidrs: string[] }
  | { kind: "can-reach"; ips: string[] };

/** Parses `bgp.addressDetection`; a message on error. */
export function parseDetectionMethod(s: string): DetectionMethod | string {
  if (s === "first-found") return { kind: "first-found" };
  const eq = s.indexOf("=");
  const kind = eq < 0 ? s : s.slice(0, eq);
  const arg = eq < 0 ? "" : s.slice(eq + 1);
  if (kind === "interface" && arg !== "") {
    try {
      return { kind: "interface", regex: new RegExp(`^(?:${arg})$`), text: arg };
    } catch (e) {
      return `interface=${arg}: ${(e as Error).message}`;
    }
  }
  if (kind === "cidr" && arg !== "") {
    const cidrs = arg.split(",").map((c) => c.trim());
    const bad = cidrs.find((c) => typeof parsePrefix(c) === "string");
    return bad !== undefined ? `cidr=${bad}: not a CIDR` : { kind: "cidr", cidrs };
  }
  if (kind === "can-reach" && arg !== "") {
    const ips = arg.split(",").map((c) => c.trim());
    const bad = ips.find((c) => typeof parseAddress(c) === "string");
    return bad !== undefined ? `can-reach=${bad}: not an IP address` : { kind: "can-reach", ips };
  }
  return `"${s}": expected interface=REGEX, cidr=CIDR[,CIDR...], can-reach=IP[,IP...] or first-found`;
}

function familyOf(a: string): Family | undefined {
  const p = parseAddress(a);
  return typeof p === "string" ? undefined : p.family;
}

/** Global: not loopback, not link-local, not unspecified. */
function isGlobal(a: string): boolean {
  const p = parseAddress(a);
  if (typeof p === "string") return false;
  if (p.family === 4) return !a.startsWith("127.") && !a.startsWith("169.254.") && a !== "0.0.0.0";
  const v = p.value;
  return v !== 0n && v !== 1n && v >> 118n !== 0x3fan; // fe80::/10
}

function firstFound(facts: KernelFacts, family: Family): string | undefined {
  const ifs = [...facts.interfaces]
    .filter((i) => !SKIP.test(i.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const i of ifs) {
    const a = i.addresses.find((x) => familyOf(x) === family && isGlobal(x));
    if (a !== undefined) return a;
  }
  return undefined;
}

function detect(m: DetectionMethod, facts: KernelFacts, family: Family): ChosenAddress | undefined {
  const ours = (a: string): boolean => familyOf(a) === family && isGlobal(a);
  if (m.kind === "interface") {
    const ifs = facts.interfaces
      .filter((i) => m.regex.test(i.name))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const i of ifs) {
      const a = i.addresses.find(ours);
      if (a !== undefined) return { address: a, method: `interface=${m.text} (${i.name})` };
    }
    return undefined;
  }
  if (m.kind === "cidr") {
    const nets = m.cidrs.map((c) => parsePrefix(c)).filter((p) => typeof p !== "string");
    for (const i of facts.interfaces) {
      for (const a of i.addresses.filter(ours)) {
        const p = parseAddress(a);
        if (typeof p !== "string" && nets.some((n) => contains(n, p)))
          return { address: a, method: `cidr=${m.cidrs.join(",")} (${i.name})` };
      }
    }
    return undefined;
  }
  if (m.kind === "can-reach") {
    const ip = m.ips.find((x) => familyOf(x) === family);
    if (ip !== undefined) {
      const src = facts.sourceFor[ip];
      return src !== undefined && ours(src) ? { address: src, method: `can-reach=${ip}` } : undefined;
    }
  }
  const a = firstFound(facts, family);
  return a === undefined ? undefined : { address: a, method: "first-found" };
}

/** The node's BGP addresses: annotation first, then the configured method. */
export function selectBgpAddresses(
  annotations: Readonly<Record<string, string>>,
  method: DetectionMethod,
  facts: KernelFacts,
): { addresses: BgpAddresses; problems: string[] } {
  const addresses: BgpAddresses = {};
  const problems: string[] = [];
  for (const [family, key, ann] of [
    [4, "ipv4", ANNOTATION_BGP_IPV4],
    [6, "ipv6", ANNOTATION_BGP_IPV6],
  ] as const) {
    const explicit = annotations[ann];
    if (explicit !== undefined && explicit !== "") {
      if (familyOf(explicit) === family) {
        addresses[key] = { address: explicit, method: `annotation ${ann}` };
        continue;
      }
      problems.push(`annotation ${ann}: "${explicit}" is not an IPv${family} address; detecting instead`);
    }
    const d = detect(method, facts, family);
    if (d !== undefined) addresses[key] = d;
  }
  return { addresses, problems };
}
