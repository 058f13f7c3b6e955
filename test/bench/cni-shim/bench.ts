// Micro-benchmark: the cost of the exec'd plugin itself, side by side in one
// run. Rows:
//   - trellis shim, VERSION, trivial handler: exec + unix socket + a handler that
//     answers at once (the transport's own cost);
//   - trellis shim, VERSION, spec handler: the same through cni/handler.ts;
//   - trellis shim, ADD, spec handler + in-memory backend (no kernel work);
//   - reference ptp VERSION: exec of the Go plugin (/usr/lib/cni/ptp);
//   - node -e 0: what a Node.js plugin would pay just to start (few runs).
// Calls are interleaved round-robin so machine noise hits every row alike.
// Smoke size by default; TRELLIS_BENCH_FULL=1 for 500 rounds.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CniServer } from "../../../agent/cni-server/server.js";
import { MemoryBackend } from "../../../cni/test/memory-backend.js";
import { SUPPORTED_VERSIONS, CURRENT_VERSION } from "../../../cni/versions.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const SHIM = join(root, "cni/shim/trellis");
const PTP = "/usr/lib/cni/ptp";
const full = process.env.TRELLIS_BENCH_FULL === "1";
const ROUNDS = full ? 500 : 60;
const NODE_ROUNDS = full ? 30 : 5;

function execOnce(file: string, args: string[], env: Record<string, string>, stdin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(file, args, { env, stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`${file} exited ${String(code)}: ${out}`));
      else resolve(ms);
    });
    // A plugin may exit without reading stdin (EPIPE): its exit status tells.
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin);
  });
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

interface Row {
  name: string;
  runs: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  mean_ms: number;
}

function summarize(name: string, xs: number[]): Row {
  const s = [...xs].sort((a, b) => a - b);
  const r = (n: number): number => Math.round(n * 1000) / 1000;
  return {
    name,
    runs: s.length,
    p50_ms: r(pct(s, 50)),
    p90_ms: r(pct(s, 90)),
    p99_ms: r(pct(s, 99)),
    mean_ms: r(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

async function main(): Promise<void> {
  execFileSync("make", ["-s", "-C", join(root, "cni/shim")], { stdio: "inherit" });
  const dir = mkdtempSync(join(tmpdir(), "tCbench-"));
  const trivialSock = join(dir, "trivial.sock");
  const specSock = join(dir, "spec.sock");
  const versionAnswer = JSON.stringify({
    cniVersion: CURRENT_VERSION,
    supportedVersions: SUPPORTED_VERSIONS,
  });
  const trivial = new CniServer({
    socketPath: trivialSock,
    backend: new MemoryBackend(),
    handle: () => Promise.resolve({ exitCode: 0, stdout: versionAnswer, command: "VERSION" }),
  });
  const backend = new MemoryBackend();
  const spec = new CniServer({ socketPath: specSock, backend });
  await trivial.listen();
  await spec.listen();
  const conf = (sock: string): string =>
    JSON.stringify({
      cniVersion: "1.1.0",
      name: "bench",
      type: "trellis",
      agentSocket: sock,
      ipam: { type: "trellis-ipam" },
    });
  const times: Record<string, number[]> = {
    "trellis shim VERSION (trivial handler)": [],
    "trellis shim VERSION (spec handler)": [],
    "trellis shim ADD (spec handler, in-memory backend)": [],
    "reference ptp VERSION": [],
    "node -e 0 (a Node.js plugin's start alone)": [],
  };
  const push = (k: string, v: number): void => {
    times[k]?.push(v);
  };
  try {
    for (let i = 0; i < ROUNDS; i++) {
      push(
        "trellis shim VERSION (trivial handler)",
        await execOnce(SHIM, [], { CNI_COMMAND: "VERSION" }, conf(trivialSock)),
      );
      push(
        "reference ptp VERSION",
        await execOnce(PTP, [], { CNI_COMMAND: "VERSION" }, '{"cniVersion":"1.0.0"}'),
      );
      push(
        "trellis shim VERSION (spec handler)",
        await execOnce(SHIM, [], { CNI_COMMAND: "VERSION" }, conf(specSock)),
      );
      const env = {
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: `bench${i}`,
        CNI_NETNS: "/var/run/netns/tCbench",
        CNI_IFNAME: "eth0",
        CNI_PATH: "/usr/lib/cni",
      };
      push(
        "trellis shim ADD (spec handler, in-memory backend)",
        await execOnce(SHIM, [], env, conf(specSock)),
      );
      if (i < NODE_ROUNDS) {
        push(
          "node -e 0 (a Node.js plugin's start alone)",
          await execOnce(process.execPath, ["-e", "0"], {}, ""),
        );
      }
    }
  } finally {
    await trivial.close();
    await spec.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = Object.entries(times).map(([k, v]) => summarize(k, v));
  const ptp = rows.find((r) => r.name === "reference ptp VERSION");
  const header = ["case", "runs", "p50 ms", "p90 ms", "p99 ms", "mean ms", "p50 / ptp"];
  const lines = rows.map((r) => [
    r.name,
    String(r.runs),
    r.p50_ms.toFixed(2),
    r.p90_ms.toFixed(2),
    r.p99_ms.toFixed(2),
    r.mean_ms.toFixed(2),
    ptp ? (r.p50_ms / ptp.p50_ms).toFixed(2) : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  process.stdout.write(
    `CNI plugin exec round trip (${full ? "full" : "smoke"}: ${ROUNDS} rounds, interleaved)\n`,
  );
  process.stdout.write(fmt(header) + "\n" + widths.map((w) => "-".repeat(w)).join("  ") + "\n");
  for (const l of lines) process.stdout.write(fmt(l) + "\n");
  const resultsDir = join(root, "test/bench/results");
  mkdirSync(resultsDir, { recursive: true });
  const out = {
    benchmark: "cni-shim",
    date: new Date().toISOString(),
    size: full ? "full" : "smoke",
    rounds: ROUNDS,
    note: "wall time from spawn to exit, measured from Node.js; rows interleaved in one run",
    rows,
    shimOverPtpP50: ptp ? rows[0] && Math.round((rows[0].p50_ms / ptp.p50_ms) * 1000) / 1000 : null,
  };
  writeFileSync(join(resultsDir, "cni-shim.json"), JSON.stringify(out, null, 2) + "\n");
  process.stdout.write(`wrote ${join(resultsDir, "cni-shim.json")}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
