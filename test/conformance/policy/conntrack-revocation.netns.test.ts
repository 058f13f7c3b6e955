/**
 * Revocation in network namespaces (root): a policy change cuts off the
 * established flows it denies and leaves the others flowing. The agent's
 * policy manager applies the rules to node n1 with the real nft, re-checks
 * the touched conntrack entries against them and marks the denied ones by
 * ctnetlink, as the agent does (agent/policy/revocation.ts,
 * conntrack-revoker.ts, policy/README.md "Revocation"); the test reads the
 * entries back with the `conntrack` tool.
 *
 * Long-lived TCP streams between pods of n1 (a message every 50 ms, echoed):
 *   S1 x/a -> x/c:5001   denied once x/c admits only namespace z
 *   S2 z/a -> x/c:5001   still allowed (same destination: its entry is re-checked too)
 *   S3 y/b -> z/c:5001   pods the change does not touch (its entry is left alone)
 *   S4 x/a -> x/c:5002   denied like S1, but the server pushes and the client only
 *                        acknowledges: after a plain delete of its entry, the server's
 *                        next segment would be picked up as a new flow x/c -> x/a,
 *                        which nothing forbids, and the stream would go on; the mark
 *                        keeps the flow's original direction, so it stops
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { pino } from "pino";
import { NetnsCluster } from "./netns-cluster.js";
import { PolicyManager } from "../../../agent/policy/policy-manager.js";
import { CORE_KINDS, POLICY_KINDS } from "../../../agent/policy/policy-inputs.js";
import { NetlinkConntrackRevoker } from "../../../agent/policy/conntrack-revoker.js";
import { NftDriver } from "../../../agent/nft/driver.js";
import { ExecNft } from "../../../agent/nft/backend.js";
import { CT_MARK_DENIED } from "../../../policy/compiler/to-nft.js";
import { requireExecutable } from "../../support/require.js";
import type { Doc } from "../../../policy/test/fixtures.js";

const cluster = new NetnsCluster("tPrv", 78);
const N1 = cluster.nodes.n1.netns;
const PORT = 5001;
const PUSH_PORT = 5002;
const pod = (k: string) => {
  const p = cluster.pods.find((q) => `${q.ns}/${q.pod}` === k);
  if (!p) throw new Error(`no pod ${k}`);
  return p;
};

const ECHO_SERVER = `import socket,threading
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(("0.0.0.0",${PORT})); s.listen(16)
def serve(c):
  while True:
    d=c.recv(4096)
    if not d: break
    c.sendall(d)
print("ready",flush=True)
while True:
  c,_=s.accept(); threading.Thread(target=serve,args=(c,),daemon=True).start()`;

/** Pushes 1 KiB every 20 ms to whoever connects, for at most 120 s each. */
const PUSH_SERVER = `import socket,threading,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(("0.0.0.0",${PUSH_PORT})); s.listen(16)
def push(c):
  c.settimeout(0.5); end=time.time()+120
  while time.time()<end:
    try:
      c.send(b"y"*1024)
    except socket.timeout:
      pass
    except OSError:
      break
    time.sleep(0.02)
print("ready",flush=True)
while True:
  c,_=s.accept(); threading.Thread(target=push,args=(c,),daemon=True).start()`;

/**
 * One connection to argv[1]:argv[2] for at most 120 s, printing "ok" per
 * read; with argv[3] "echo" it also sends a message every 50 ms (the echo
 * server answers it), else it only reads what the server pushes.
 */
const STREAM_CLIENT = `import socket,sys,time
s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=2); s.settimeout(0.1)
echo=sys.argv[3]=="echo"; end=time.time()+120
while time.time()<end:
  try:
    if echo: s.send(b"x"*64)
  except (socket.timeout, BlockingIOError):
    pass
  try:
    d=s.recv(65536)
    if not d:
      print("closed",flush=True); break
    print("ok",flush=True)
  except socket.timeout:
    pass
  time.sleep(0.05)`;

const procs: ChildProcess[] = [];

function inPod(k: string, code: string, ...args: string[]): ChildProcess {
  const p = spawn(
    "nsenter",
    [`--net=/var/run/netns/${pod(k).netns}`, "--", "python3", "-u", "-c", code, ...args],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  procs.push(p);
  return p;
}

function firstLine(p: ChildProcess, want: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: p.stdout as NodeJS.ReadableStream });
    const t = setTimeout(() => reject(new Error(`no "${want}" within 10 s`)), 10_000);
    rl.on("line", (l) => {
      if (l === want) {
        clearTimeout(t);
        resolve();
      }
    });
    p.on("exit", (code) => reject(new Error(`exited ${code} before "${want}"`)));
  });
}

class Stream {
  echoes = 0;
  closed = false;
  constructor(
    readonly from: string,
    readonly to: string,
    readonly port = PORT,
  ) {
    const p = inPod(from, STREAM_CLIENT, pod(to).ip, String(port), port === PORT ? "echo" : "read");
    createInterface({ input: p.stdout as NodeJS.ReadableStream }).on("line", (l) => {
      if (l === "ok") this.echoes++;
      if (l === "closed") this.closed = true;
    });
  }
  /** Echoes received over the next `ms`. */
  async during(ms: number): Promise<number> {
    const before = this.echoes;
    await sleep(ms);
    return this.echoes - before;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The conntrack entry of a stream in n1 (original direction from -> to:PORT): its state and mark. */
function entry(s: Stream): { state: string; mark: number } | undefined {
  const out = execFileSync(
    "ip",
    [
      "netns",
      "exec",
      N1,
      "conntrack",
      "-L",
      "-p",
      "tcp",
      "-s",
      pod(s.from).ip,
      "-d",
      pod(s.to).ip,
      "--dport",
      String(s.port),
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
  const line = out.split("\n").find((l) => l.includes(`dport=${s.port}`));
  if (line === undefined) return undefined;
  const state = /^tcp\s+\d+\s+\d+\s+(\S+)/.exec(line)?.[1] ?? "";
  const mark = Number(/mark=(\d+)/.exec(line)?.[1] ?? "0");
  return { state, mark };
}

const onlyZ: Doc = {
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name: "only-z", namespace: "x" },
  spec: {
    podSelector: { matchLabels: { pod: "c" } },
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "z" } } }] }],
  },
};

function manager(revoke: boolean): PolicyManager {
  const m = new PolicyManager({
    node: "n1",
    driver: new NftDriver(new ExecNft({ netns: N1 })),
    log: pino({ level: "silent" }),
    requiredKinds: [...CORE_KINDS, ...POLICY_KINDS.map((k) => k.kind)],
    minIntervalMs: 0,
    resyncIntervalMs: 3_600_000,
    retryMs: 100,
    ...(revoke ? { revoker: new NetlinkConntrackRevoker({ netns: N1 }) } : {}),
  });
  const docs = cluster.baseDocs();
  for (const k of CORE_KINDS)
    m.replaceAll(
      k,
      "v1",
      docs.filter((d) => d.kind === k),
    );
  for (const k of POLICY_KINDS) m.replaceAll(k.kind, k.apiVersion, []);
  return m;
}

describe("revocation: a policy change cuts off the established flows it denies (namespaces, real nft and conntrack)", () => {
  let s1: Stream;
  let s2: Stream;
  let s3: Stream;
  let s4: Stream;
  const managers: PolicyManager[] = [];

  beforeAll(async () => {
    requireExecutable("/usr/sbin/conntrack", "conntrack");
    await cluster.up();
    const m0 = manager(false);
    managers.push(m0);
    await m0.quiescent();
    const servers = [...["x/c", "z/c"].map((k) => inPod(k, ECHO_SERVER)), inPod("x/c", PUSH_SERVER)];
    await Promise.all(servers.map((p) => firstLine(p, "ready")));
    s1 = new Stream("x/a", "x/c");
    s2 = new Stream("z/a", "x/c");
    s3 = new Stream("y/b", "z/c");
    s4 = new Stream("x/a", "x/c", PUSH_PORT);
    for (const s of [s1, s2, s3, s4]) {
      const end = Date.now() + 10_000;
      while (s.echoes < 5 && Date.now() < end) await sleep(50);
    }
  }, 120_000);

  afterAll(() => {
    for (const m of managers) m.stop();
    for (const p of procs) p.kill();
    cluster.down();
  });

  it("every stream is established through n1, its conntrack entry unmarked", () => {
    for (const s of [s1, s2, s3, s4]) {
      expect(s.echoes).toBeGreaterThanOrEqual(5);
      expect(entry(s)).toEqual({ state: "ESTABLISHED", mark: 0 });
    }
  });

  it("without the re-check, a policy that denies an established flow does not stop it (why revocation exists)", async () => {
    const m0 = managers[0] as PolicyManager;
    m0.upsert("NetworkPolicy", "networking.k8s.io/v1", onlyZ);
    await m0.quiescent();
    // New connections are refused their way in...
    expect(NetnsCluster.connectFrom(pod("x/a").netns, pod("x/c").ip, PORT)).toBe("timeout");
    // ...but the established ones go on.
    const [d1, d4] = await Promise.all([s1.during(1000), s4.during(1000)]);
    expect(d1).toBeGreaterThanOrEqual(5);
    expect(d4).toBeGreaterThanOrEqual(5);
    // Back to no policy, and this manager hands over to the agent's own.
    m0.remove("NetworkPolicy", onlyZ);
    await m0.quiescent();
    m0.stop();
  }, 30_000);

  it("a manager that replaces the table re-checks every local flow: all allowed, none cut off", async () => {
    const m = manager(true);
    managers.push(m);
    await m.quiescent();
    expect(m.metrics.flowsDenied).toBe(0);
    expect(m.metrics.revocationErrors).toBe(0);
    for (const s of [s1, s2, s3, s4]) expect(await s.during(800)).toBeGreaterThanOrEqual(4);
    for (const s of [s1, s2, s3, s4]) expect(entry(s)?.mark).toBe(0);
  }, 30_000);

  it("a policy that denies an established flow stops it: nothing gets through from 0.5 s after the apply; the allowed and untouched ones go on", async () => {
    const m = managers[1] as PolicyManager;
    m.upsert("NetworkPolicy", "networking.k8s.io/v1", onlyZ);
    await m.quiescent();
    // In-flight echoes drain; from then on nothing gets through.
    await sleep(500);
    const [d1, d2, d3, d4] = await Promise.all([
      s1.during(2000),
      s2.during(2000),
      s3.during(2000),
      s4.during(2000),
    ]);
    expect(d1).toBe(0);
    expect(d4).toBe(0);
    expect(d2).toBeGreaterThanOrEqual(10);
    expect(d3).toBeGreaterThanOrEqual(10);
    // The denied flows' entries are marked; the allowed and the untouched ones are not.
    expect(entry(s1)?.mark).toBe(CT_MARK_DENIED);
    expect(entry(s4)?.mark).toBe(CT_MARK_DENIED);
    expect(entry(s2)?.mark).toBe(0);
    expect(entry(s3)?.mark).toBe(0);
    expect(m.metrics.flowsDenied).toBe(2);
    // A new connection from the denied pod is dropped.
    expect(NetnsCluster.connectFrom(pod("x/a").netns, pod("x/c").ip, PORT)).toBe("timeout");
    expect(NetnsCluster.connectFrom(pod("z/c").netns, pod("x/c").ip, PORT)).toBe("connected");
  }, 30_000);

  it("a namespace relabelled out of the admitted peers: its pods' flows are re-checked, the denied one stops, the rest go on", async () => {
    const m = managers[1] as PolicyManager;
    m.upsert("Namespace", "v1", { metadata: { name: "z", labels: { ns: "zz" } } });
    await m.quiescent();
    await sleep(500);
    const [d2, d3] = await Promise.all([s2.during(2000), s3.during(2000)]);
    // z/a no longer admitted into x/c; z/c's flow with y/b is re-checked and still allowed.
    expect(d2).toBe(0);
    expect(d3).toBeGreaterThanOrEqual(10);
    expect(entry(s2)?.mark).toBe(CT_MARK_DENIED);
    expect(entry(s3)?.mark).toBe(0);
  }, 30_000);

  it("the policy removed, the cut-off flows are allowed again and resume (the pushing server's retransmission too)", async () => {
    const m = managers[1] as PolicyManager;
    m.remove("NetworkPolicy", onlyZ);
    await m.quiescent();
    // TCP retransmits with backoff (the streams stalled for seconds): allow it a few.
    const streams = [s1, s2, s4];
    const before = streams.map((s) => s.echoes);
    const end = Date.now() + 20_000;
    while (streams.some((s, i) => s.echoes === before[i]) && Date.now() < end) await sleep(100);
    streams.forEach((s, i) => expect(s.echoes).toBeGreaterThan(before[i] as number));
    expect(streams.some((s) => s.closed)).toBe(false);
    for (const s of streams) expect(entry(s)?.mark).toBe(0);
    // Three streams, and the closed probe connection of z/c (its TIME_WAIT entry was denied with z).
    expect(m.metrics.flowsReallowed).toBeGreaterThanOrEqual(3);
  }, 30_000);
});
