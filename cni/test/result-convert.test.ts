// Result conversion fixtures, both ways: canonical -> each version's wire
// format, each wire format -> canonical, and every (from, to) pair.
import { describe, expect, it } from "@jest/globals";
import { CniError } from "../error.js";
import type { CniResult } from "../result.js";
import { appendResult } from "../result.js";
import { convertResult, formatResult, parseResult } from "../result-convert.js";
import { SUPPORTED_VERSIONS } from "../versions.js";

/** Everything a 1.1.0 result can hold. */
const full: CniResult = {
  interfaces: [
    { name: "trl0123456789a", mac: "ee:ee:ee:ee:ee:ee" },
    {
      name: "eth0",
      mac: "0a:58:0a:f4:00:05",
      mtu: 1450,
      sandbox: "/var/run/netns/p1",
      socketPath: "/run/vhu.sock",
      pciID: "0000:00:1f.6",
    },
  ],
  ips: [
    { address: "10.244.1.5/32", gateway: "169.254.1.1", interface: 1 },
    { address: "fd00:244::5/128", interface: 1 },
  ],
  routes: [
    { dst: "0.0.0.0/0", gw: "169.254.1.1" },
    { dst: "::/0", gw: "fe80::1", mtu: 1400, advmss: 1360, priority: 100, table: 254, scope: 0 },
  ],
  dns: {
    nameservers: ["10.96.0.10"],
    domain: "cluster.local",
    search: ["default.svc.cluster.local"],
    options: ["ndots:5"],
  },
};

const dns = {
  nameservers: ["10.96.0.10"],
  domain: "cluster.local",
  search: ["default.svc.cluster.local"],
  options: ["ndots:5"],
};

/** The same result as each version writes it (SPEC.md section 5 per version). */
const legacy = (v: string): Record<string, unknown> => ({
  cniVersion: v,
  interfaces: [
    { name: "trl0123456789a", mac: "ee:ee:ee:ee:ee:ee" },
    { name: "eth0", mac: "0a:58:0a:f4:00:05", sandbox: "/var/run/netns/p1" },
  ],
  ips: [
    { version: "4", interface: 1, address: "10.244.1.5/32", gateway: "169.254.1.1" },
    { version: "6", interface: 1, address: "fd00:244::5/128" },
  ],
  routes: [
    { dst: "0.0.0.0/0", gw: "169.254.1.1" },
    { dst: "::/0", gw: "fe80::1" },
  ],
  dns,
});

const wire: Record<string, Record<string, unknown>> = {
  "0.3.0": legacy("0.3.0"),
  "0.3.1": legacy("0.3.1"),
  "0.4.0": legacy("0.4.0"),
  "1.0.0": {
    cniVersion: "1.0.0",
    interfaces: [
      { name: "trl0123456789a", mac: "ee:ee:ee:ee:ee:ee" },
      { name: "eth0", mac: "0a:58:0a:f4:00:05", sandbox: "/var/run/netns/p1" },
    ],
    ips: [
      { interface: 1, address: "10.244.1.5/32", gateway: "169.254.1.1" },
      { interface: 1, address: "fd00:244::5/128" },
    ],
    routes: [
      { dst: "0.0.0.0/0", gw: "169.254.1.1" },
      { dst: "::/0", gw: "fe80::1" },
    ],
    dns,
  },
  "1.1.0": {
    cniVersion: "1.1.0",
    // 1.1.0 carries every interface field (socketPath, pciID) as the canonical form has them.
    interfaces: full.interfaces,
    ips: [
      { interface: 1, address: "10.244.1.5/32", gateway: "169.254.1.1" },
      { interface: 1, address: "fd00:244::5/128" },
    ],
    routes: [
      { dst: "0.0.0.0/0", gw: "169.254.1.1" },
      { dst: "::/0", gw: "fe80::1", mtu: 1400, advmss: 1360, priority: 100, table: 254, scope: 0 },
    ],
    dns,
  },
};

/** The canonical form of what a version can carry (1.1.0-only fields dropped). */
function restrict(r: CniResult, v: string): CniResult {
  if (v === "1.1.0") return r;
  return {
    ...r,
    interfaces: r.interfaces.map(({ name, mac, sandbox }) => ({
      name,
      ...(mac !== undefined ? { mac } : {}),
      ...(sandbox !== undefined ? { sandbox } : {}),
    })),
    routes: r.routes.map(({ dst, gw }) => ({ dst, ...(gw !== undefined ? { gw } : {}) })),
  };
}

describe("canonical -> wire", () => {
  it.each(SUPPORTED_VERSIONS)("%s", (v) => {
    expect(formatResult(full, v)).toEqual(wire[v]);
  });

  it("the exact 1.0.0 bytes: version removed from ips, key order stable", () => {
    expect(JSON.stringify(formatResult(full, "1.0.0").ips)).toBe(
      '[{"interface":1,"address":"10.244.1.5/32","gateway":"169.254.1.1"},{"interface":1,"address":"fd00:244::5/128"}]',
    );
  });

  it("omits empty lists and an empty dns (libcni omitempty)", () => {
    expect(formatResult({ interfaces: [], ips: [], routes: [], dns: {} }, "1.1.0")).toEqual({
      cniVersion: "1.1.0",
    });
  });
});

describe("wire -> canonical", () => {
  it.each(SUPPORTED_VERSIONS)("%s", (v) => {
    expect(parseResult(wire[v], v)).toEqual(restrict(full, v));
  });

  it("keeps unknown keys out and tolerates them in (chained plugins add their own)", () => {
    const w = { ...wire["1.0.0"], extra: true, ips: [{ address: "10.0.0.1/32", foo: 1 }] };
    expect(parseResult(w, "1.0.0").ips).toEqual([{ address: "10.0.0.1/32" }]);
  });

  it("rejects an ips[].version that contradicts the address", () => {
    expect(() => parseResult({ ips: [{ version: "6", address: "10.0.0.1/32" }] }, "0.4.0")).toThrow(
      /does not match/,
    );
  });

  it("rejects an interface index out of range, naming it", () => {
    try {
      parseResult({ interfaces: [], ips: [{ address: "10.0.0.1/32", interface: 0 }] }, "1.0.0", "prevResult");
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(CniError);
      expect((e as CniError).code).toBe(7);
      expect((e as CniError).message).toMatch(/prevResult\.ips\.0\.interface/);
    }
  });

  it.each([
    ["routes.0.dst", { routes: [{ dst: "nope" }] }],
    ["routes.0.gw", { routes: [{ dst: "0.0.0.0/0", gw: "x" }] }],
    ["interfaces.0.name", { interfaces: [{ mac: "x" }] }],
    ["routes.0.table", { routes: [{ dst: "0.0.0.0/0", table: -1 }] }],
  ])("names a bad %s", (field, w) => {
    expect(() => parseResult(w, "1.1.0", "prevResult")).toThrow(
      new RegExp(`prevResult\\.${field.replace(/\./g, "\\.")}`),
    );
  });
});

describe("version to version", () => {
  const pairs = SUPPORTED_VERSIONS.flatMap((a) => SUPPORTED_VERSIONS.map((b) => [a, b] as const));
  it.each(pairs)("%s -> %s", (from, to) => {
    const expected = formatResult(restrict(full, from), to);
    expect(convertResult(wire[from], from, to)).toEqual(expected);
    // Down then up loses only what the lower version cannot carry.
    expect(convertResult(convertResult(wire[from], from, to), to, from)).toEqual(
      formatResult(restrict(restrict(full, from), to), from),
    );
  });
});

describe("appendResult (chained ADD)", () => {
  it("shifts our interface indices past the previous interfaces", () => {
    const prev: CniResult = {
      interfaces: [{ name: "net1" }],
      ips: [{ address: "192.168.0.2/24", interface: 0 }],
      routes: [],
      dns: { domain: "a" },
    };
    const own: CniResult = {
      interfaces: [{ name: "h" }, { name: "eth0" }],
      ips: [{ address: "10.0.0.2/32", interface: 1 }],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: {},
    };
    const r = appendResult(prev, own);
    expect(r.interfaces.map((i) => i.name)).toEqual(["net1", "h", "eth0"]);
    expect(r.ips).toEqual([
      { address: "192.168.0.2/24", interface: 0 },
      { address: "10.0.0.2/32", interface: 2 },
    ]);
    expect(r.dns).toEqual({ domain: "a" });
  });
});
