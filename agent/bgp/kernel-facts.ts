/**
 * The kernel facts the pure parts of agent/bgp need, read with `ip -j`:
 * interfaces and their addresses (address detection), the source address
 * toward an IP (`can-reach=`), and the underlay routes (next-hop resolution:
 * main table, neither ours — proto 201/202 — nor blackholes).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { isTrellisProto } from "../../net/route-ownership.js";
import type { InterfaceFacts } from "./address-detection.js";
import type { UnderlayRoute } from "./next-hop-resolution.js";

const execFileP = promisify(execFile);

async function ipJson(args: string[]): Promise<unknown[]> {
  const { stdout } = await execFileP("ip", ["-j", ...args], { maxBuffer: 64 << 20 });
  const t = stdout.trim();
  return t === "" ? [] : (JSON.parse(t) as unknown[]);
}

export async function readInterfaces(): Promise<InterfaceFacts[]> {
  const rows = (await ipJson(["addr", "show"])) as {
    ifname?: string;
    addr_info?: { local?: string }[];
  }[];
  return rows
    .filter((r) => r.ifname !== undefined)
    .map((r) => ({
      name: r.ifname ?? "",
      addresses: (r.addr_info ?? []).map((a) => a.local).filter((a): a is string => a !== undefined),
    }));
}

/** The source address the kernel would use toward `ip` (undefined when unreachable). */
export async function sourceFor(ip: string): Promise<string | undefined> {
  try {
    const rows = (await ipJson(["route", "get", ip])) as { prefsrc?: string }[];
    return rows[0]?.prefsrc;
  } catch {
    return undefined;
  }
}

export async function readUnderlayRoutes(): Promise<UnderlayRoute[]> {
  const out: UnderlayRoute[] = [];
  for (const fam of ["-4", "-6"]) {
    const rows = (await ipJson([fam, "route", "show", "table", "main"])) as {
      dst: string;
      gateway?: string;
      protocol?: string;
      type?: string;
    }[];
    for (const r of rows) {
      if (r.type !== undefined && r.type !== "unicast") continue;
      // `ip -j` prints the protocol by name once rt_protos.d names it (net/route-ownership.ts).
      if (isTrellisProto(r.protocol)) continue;
      const dst = r.dst === "default" ? (fam === "-6" ? "::/0" : "0.0.0.0/0") : r.dst;
      const prefix = dst.includes("/") ? dst : `${dst}/${fam === "-6" ? 128 : 32}`;
      out.push(r.gateway !== undefined ? { prefix, via: r.gateway } : { prefix });
    }
  }
  return out;
}
