// One ground floor (net/README.md): each primitive exists once, in net/. This
// scans the tracked TypeScript sources for the telltale definitions of a
// second copy and fails when one appears outside net/. Files that still hold
// a copy are listed below with the reason; the list may only shrink (an entry
// that no longer matches fails too, so it gets deleted when its file moves).
import { describe, it, expect } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const SELF = "test/net/single-floor.test.ts";

type Rule = "address-parser" | "label-selector" | "line-session" | "veth-name" | "route-proto" | "backoff";

/** What a second copy looks like. */
const TELLTALES: Record<Rule, { what: string; re: RegExp }> = {
  "address-parser": {
    what: "an IP address or CIDR parser (use net/address.ts)",
    re: /\b(?:function|const|let)\s+(?:parseCidr\w*|parsePrefix|parsePrefixLoose|parseIp|parseIP|parseIPv[46]|parseIpv[46]\w*|parseAddress\w*|ipToBigInt|addressToBigInt)\b/,
  },
  "label-selector": {
    what: "a label selector parser or matcher (use net/label-selector.ts)",
    re: /\b(?:function|const|let)\s+(?:parse(?:Label)?Selector|selectorMatches|labelsMatch|selectorObjectMatches)\b/,
  },
  "line-session": {
    what: "a long-lived `ip -batch` / `nft -i` session or its fence parsing (use net/line-session.ts)",
    re: /spawn\([^;]*?["'](?:-batch|-i)["']|spawn\(\s*["'](?:\/bin\/)?sh["']\s*,\s*\[\s*\]|Command failed -:\(|["'`]trellis-ack-/,
  },
  "veth-name": {
    what: "a host veth name function (use net/veth-name.ts)",
    re: /\bfunction\s+(?:hostVethName|podVethName)\b/,
  },
  "route-proto": {
    what: "a route protocol number of our own (use net/route-ownership.ts)",
    re: /\b\w*PROTO\w*\s*=\s*20[12]\b/,
  },
  backoff: {
    what: "an exponential backoff (use net/backoff.ts)",
    re: /2\s*\*\*\s*Math\.min\(/,
  },
};

/**
 * Still to migrate: none (issue 8 finished the ground floor). A file that
 * must keep a copy for a while is listed here with its reason.
 */
const TO_MIGRATE: Record<string, { rules: Rule[]; why: string }> = {};

/**
 * Not copies: the BGP codec reads and writes prefixes and addresses straight
 * from and into Buffers (RFC 4271 §4.3 NLRI encoding). Those converters are
 * wire format, run per route on the 1M-route path, and never parse user text
 * for another room.
 */
const WIRE_FORMAT: Record<string, { rules: Rule[]; why: string }> = {
  "bgp/wire/address.ts": { rules: ["address-parser"], why: "Buffer reader/writer of the codec" },
  "bgp/wire/prefix.ts": { rules: ["address-parser"], why: "Buffer reader/writer of the codec (NLRI octets)" },
};

function trackedSources(): string[] {
  return execFileSync("git", ["ls-files", "*.ts"], { cwd: REPO, encoding: "utf8" })
    .split("\n")
    .filter((f) => f !== "" && !f.startsWith("net/") && f !== SELF);
}

function findings(): Map<string, Rule[]> {
  const out = new Map<string, Rule[]>();
  for (const file of trackedSources()) {
    let text: string;
    try {
      text = readFileSync(`${REPO}/${file}`, "utf8");
    } catch {
      continue; // deleted in the work tree, not yet in the index
    }
    const hits = (Object.keys(TELLTALES) as Rule[]).filter((r) => TELLTALES[r].re.test(text));
    if (hits.length > 0) out.set(file, hits);
  }
  return out;
}

describe("one ground floor: no second copy of a net/ primitive", () => {
  const found = findings();
  const allowed = { ...TO_MIGRATE, ...WIRE_FORMAT };

  it("no file outside net/ defines one, except those listed", () => {
    const unexpected: string[] = [];
    for (const [file, rules] of found)
      for (const r of rules)
        if (!(allowed[file]?.rules ?? []).includes(r)) unexpected.push(`${file}: ${TELLTALES[r].what}`);
    expect(unexpected).toEqual([]);
  });

  it("the list of files still to migrate only shrinks: every entry still holds its copy", () => {
    const stale: string[] = [];
    for (const [file, { rules }] of Object.entries(allowed))
      for (const r of rules)
        if (!(found.get(file) ?? []).includes(r))
          stale.push(`${file}: no longer ${TELLTALES[r].what}; delete its entry`);
    expect(stale).toEqual([]);
  });

  it("the telltales recognise the copies this floor replaced", () => {
    const samples: [Rule, string][] = [
      ["address-parser", "export function parseCidr(s: string): Cidr | undefined {"],
      ["address-parser", "export function parseIPv4(s: string): number | undefined {"],
      ["label-selector", "export function parseLabelSelector(input: string): LabelSelector {"],
      ["label-selector", "export function selectorMatches(sel: LabelSelector, labels: Labels): boolean {"],
      [
        "line-session",
        'const p = spawn(IP, ["-force", "-batch", "-"], { stdio: ["pipe", "ignore", "pipe"] });',
      ],
      ["line-session", "const m = /^Command failed -:(\\d+)$/.exec(line);"],
      ["line-session", 'const MARKER = "trellis-ack-";'],
      ["line-session", 'const p = spawn("/bin/sh", [], { stdio: ["pipe", "pipe", "ignore"] });'],
      ["veth-name", "export function hostVethName(namespace: string, podName: string): string {"],
      ["route-proto", "export const TRELLIS_RT_PROTO = 201;"],
      ["backoff", "const delay = Math.min(max, min * 2 ** Math.min(n - 1, 16));"],
    ];
    for (const [rule, text] of samples) expect([rule, TELLTALES[rule].re.test(text)]).toEqual([rule, true]);
  });
});
