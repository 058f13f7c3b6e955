// Seeded random inputs: neither the frame decoder nor the handler may ever
// throw; every answer is a success or a spec-shaped error with a known code.
import { describe, expect, it } from "@jest/globals";
import { decodeRequest, encodeRequest } from "../../agent/cni-server/frame.js";
import { handleCni } from "../../cni/handler.js";
import { MemoryBackend } from "../../cni/test/memory-backend.js";
import { rng } from "../support/rng.js";

const KNOWN_CODES = new Set([1, 2, 3, 4, 5, 6, 7, 11, 50, 51, 999]);

const base = {
  cniVersion: "1.1.0",
  name: "k8s-pod-network",
  type: "trellis",
  mtu: 1500,
  ipam: { type: "trellis-ipam" },
  runtimeConfig: { ips: ["10.1.1.1"], portMappings: [{ hostPort: 1, containerPort: 2 }] },
  prevResult: {
    cniVersion: "1.1.0",
    interfaces: [{ name: "eth0" }],
    ips: [{ address: "10.0.0.1/32", interface: 0 }],
  },
};

const VALUES: unknown[] = [
  null,
  0,
  -1,
  1e9,
  "",
  "x",
  "1.1.0",
  "0.3.1",
  [],
  {},
  [1],
  { type: "host-local" },
  true,
  "10.0.0.0/8",
];

function mutate(obj: unknown, r: () => number, depth = 0): unknown {
  if (obj === null || typeof obj !== "object" || depth > 4) {
    return r() < 0.3 ? VALUES[Math.floor(r() * VALUES.length)] : obj;
  }
  if (Array.isArray(obj)) return obj.map((x) => mutate(x, r, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const p = r();
    if (p < 0.1) continue; // drop the key
    if (p < 0.15)
      out[`${k}X`] = v; // rename it
    else out[k] = mutate(v, r, depth + 1);
  }
  return out;
}

describe("fuzz", () => {
  it("decodeRequest never throws on random bytes or mutated frames", () => {
    const r = rng(1);
    const good = encodeRequest({ env: { CNI_COMMAND: "ADD", CNI_IFNAME: "eth0" }, stdin: Buffer.from("{}") });
    for (let i = 0; i < 3000; i++) {
      let buf: Buffer;
      if (i % 2 === 0) {
        buf = Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)));
        if (r() < 0.5) buf = Buffer.concat([Buffer.from("TRL1"), buf]);
      } else {
        buf = Buffer.from(good);
        const flips = 1 + Math.floor(r() * 4);
        for (let f = 0; f < flips; f++) buf.writeUInt8(Math.floor(r() * 256), Math.floor(r() * buf.length));
      }
      const d = decodeRequest(buf);
      expect(["incomplete", "frame", "error"]).toContain(d.kind);
    }
  });

  it("handleCni answers every mutated config with success or a known spec code", async () => {
    const r = rng(7);
    const commands = ["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"];
    for (let i = 0; i < 400; i++) {
      const cmd = commands[i % commands.length] ?? "ADD";
      const env = {
        CNI_COMMAND: cmd,
        CNI_CONTAINERID: `c${i}`,
        CNI_NETNS: "/run/netns/tCf",
        CNI_IFNAME: "eth0",
        CNI_PATH: "/nonexistent/tC",
      };
      const conf = mutate(base, r);
      const stdin =
        r() < 0.1
          ? Buffer.from(JSON.stringify(conf).slice(0, Math.floor(r() * 40)))
          : Buffer.from(JSON.stringify(conf));
      const out = await handleCni(env, stdin, new MemoryBackend());
      if (out.exitCode === 0) continue;
      expect(out.exitCode).toBe(1);
      const j = JSON.parse(out.stdout) as { code: number; msg: string; cniVersion: string };
      expect(KNOWN_CODES.has(j.code)).toBe(true);
      expect(j.msg.length).toBeGreaterThan(0);
      expect(j.msg).not.toMatch(/\n\s+at /); // no stack traces
    }
  });
});
