// End to end, as root: `trellisctl lab up --bgp-password PW` (issue 13). The
// lab writes the Secret kube-system/bgp-password, each ToR BGPPeer names it
// and turns BFD on, and BIRD signs its node sessions with the same TCP MD5 key
// and runs BFD on them. Two nodes: every ToR session Established (BIRD drops
// unsigned or wrongly signed segments, so Established means both sides use the
// key), a BFD session Up per node and family, a wrong key in the Secret
// dropping the sessions (the agents read it) and the right one restoring
// them, and pods on different nodes reach each other through the fabric.
// It runs on the lab's default nodes (containerd and the real kubelet), so it
// also walks the README's example: lab/examples/pods.yaml, `lab matrix`
// (TCP and UDP 8080, answered by /bin/pod-echo in the pods), deny-ingress.yaml
// and its removal. On 2 nodes web-3 (bound to node-3) stays Pending and out
// of the matrix.
import { beforeAll, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoPaths } from "../../lab/repo-paths.js";
import { until } from "../support/until.js";
import { labUp, run, trellisctl } from "./lab-commands.js";
import { maybe, useSuiteLab } from "./suite-lab.js";

const PASSWORD = "lab md5 key";

interface StatusJson {
  tor: { birdSocket: string; birdConfig: string };
  nodes: { name: string; address: string; address6: string; bgp: { protocol: string; state: string }[] }[];
}

maybe("lab up --bgp-password: TCP MD5 and BFD on the ToR sessions (root, 2 nodes)", () => {
  const { dir, kubectl } = useSuiteLab("trellis-lab-md5-");
  const status = async (): Promise<StatusJson> =>
    JSON.parse((await trellisctl("lab", "status", "--dir", dir, "-o", "json")).out) as StatusJson;

  beforeAll(async () => {
    const r = await labUp(dir, 2, "--bgp-password", PASSWORD);
    if (r.code !== 0) throw new Error(`lab up failed: ${r.err}`);
  }, 180_000);

  it("writes the Secret, and the BGPPeers name it with BFD on", async () => {
    const s = await kubectl("get", "secret", "-n", "kube-system", "bgp-password", "-o", "json");
    expect(s.code).toBe(0);
    const data = (JSON.parse(s.out) as { data: Record<string, string> }).data;
    expect(Buffer.from(data["password"] ?? "", "base64").toString()).toBe(PASSWORD);
    const p = await kubectl("get", "bgppeers", "-o", "json");
    const items = (JSON.parse(p.out) as { items: { spec: Record<string, unknown> }[] }).items;
    expect(items).toHaveLength(4);
    for (const i of items)
      expect(i.spec).toMatchObject({
        password: { secretKeyRef: { name: "bgp-password", key: "password" } },
        bfd: true,
      });
  });

  it("every ToR session is Established, with the password in BIRD's config", async () => {
    const st = await until(
      "every BIRD session Established",
      async () => {
        const s = await status();
        return s.nodes.every((n) => n.bgp.length === 2 && n.bgp.every((b) => b.state === "Established"))
          ? s
          : undefined;
      },
      90_000,
      500,
    );
    const conf = readFileSync(st.tor.birdConfig, "utf8");
    expect(conf.match(/password "lab md5 key";/g)).toHaveLength(4);
    expect(conf.match(/bfd on;/g)).toHaveLength(4);
  }, 100_000);

  it("birdc show bfd sessions: Up for each node, both families", async () => {
    const st = await status();
    const missing = await until(
      "a BFD session Up per node and family",
      async () => {
        const r = await run("birdc", ["-s", st.tor.birdSocket, "show", "bfd", "sessions"]);
        const lines = r.out.split("\n");
        const notUp = st.nodes
          .flatMap((n) => [n.address, n.address6])
          .filter((a) => !lines.some((l) => l.trim().split(/\s+/)[0] === a && /\bUp\b/.test(l)));
        return notUp.length === 0 ? [] : undefined;
      },
      60_000,
      500,
    );
    expect(missing).toEqual([]);
  }, 70_000);

  it("the key comes from the Secret: a wrong one drops the sessions, the right one brings them back", async () => {
    const states = async (): Promise<string[]> =>
      (await status()).nodes.flatMap((n) => n.bgp.map((b) => b.state));
    const setPassword = async (pw: string): Promise<void> => {
      const patch = JSON.stringify({ data: { password: Buffer.from(pw).toString("base64") } });
      const r = await kubectl("patch", "secret", "-n", "kube-system", "bgp-password", "-p", patch);
      expect(r.code).toBe(0);
    };
    // Every session lab status reported before must be seen in each phase
    // (an empty list would make "none Established" true of nothing).
    const sessions = (await states()).length;
    expect(sessions).toBeGreaterThan(0);
    const all = async (ok: (s: string) => boolean): Promise<boolean> => {
      const st = await states();
      return st.length === sessions && st.every(ok);
    };
    // The agents re-read the Secret on their 10 s resync.
    await setPassword("wrong");
    await until("no ToR session Established", async () => all((s) => s !== "Established"), 40_000, 500);
    await setPassword(PASSWORD);
    await until(
      "every ToR session Established again",
      async () => all((s) => s === "Established"),
      60_000,
      500,
    );
  }, 110_000);

  it("pods on different nodes reach each other (lab/examples/pods.yaml, probe TCP 8080)", async () => {
    const a = await kubectl("apply", "-f", repoPaths.examplePods);
    expect(a.code).toBe(0);
    await until(
      "web-1a and web-2 Running",
      async () => {
        const r = await kubectl("get", "pods", "-n", "demo", "-o", "json");
        if (r.code !== 0) return undefined;
        const items = (
          JSON.parse(r.out) as { items: { metadata: { name: string }; status: { phase?: string } }[] }
        ).items;
        const running = (n: string): boolean =>
          items.some((p) => p.metadata.name === n && p.status.phase === "Running");
        return running("web-1a") && running("web-2") ? true : undefined;
      },
      60_000,
      200,
    );
    for (const [from, to] of [
      ["demo/web-1a", "demo/web-2"],
      ["demo/web-2", "demo/web-1a"],
    ] as const) {
      const r = await until(
        `${from} -> ${to}`,
        async () => {
          // node dist/cli/trellisctl.js lab probe ...
          const p = await trellisctl(
            "lab",
            "probe",
            "--dir",
            dir,
            "--from",
            from,
            "--to",
            to,
            "--port",
            "8080",
            "--protocol",
            "TCP",
          );
          return p.code === 0 ? p : undefined;
        },
        30_000,
        500,
      );
      expect(r.code).toBe(0);
    }
  }, 120_000);

  it("the README's example: lab matrix reaches every pod on TCP and UDP 8080; deny-ingress leaves each only itself", async () => {
    const pods = ["demo/web-1a", "demo/web-1b", "demo/web-2"];
    const every = pods.flatMap((from) => pods.map((to) => `${from}->${to}`)).sort();
    const selfOnly = pods.map((p) => `${p}->${p}`).sort();
    const connected = async (): Promise<Record<string, string[]>> => {
      const r = await trellisctl("lab", "matrix", "--dir", dir, "-o", "json");
      if (r.code !== 0) throw new Error(`lab matrix: ${r.err}`);
      const m = JSON.parse(r.out) as {
        results: { from: string; to: string; protocol: string; port: number; outcome: string }[];
      };
      const out: Record<string, string[]> = {};
      for (const x of m.results) {
        const k = `${x.protocol}/${x.port}`;
        out[k] ??= [];
        if (x.outcome === "connected") out[k].push(`${x.from}->${x.to}`);
      }
      for (const v of Object.values(out)) v.sort();
      return out;
    };
    // The policy reaches the nftables of every node asynchronously: poll (bounded) for the table.
    const settle = (what: string, want: string[]): Promise<Record<string, string[]>> =>
      until(
        what,
        async () => {
          const c = await connected();
          return JSON.stringify(c) === JSON.stringify({ "TCP/8080": want, "UDP/8080": want }) ? c : undefined;
        },
        60_000,
        1000,
      );
    await until(
      "web-1b Running too",
      async () => {
        const r = await kubectl("get", "pod", "-n", "demo", "web-1b", "-o", "jsonpath={.status.phase}");
        return r.out === "Running" ? true : undefined;
      },
      60_000,
      250,
    );
    expect(await settle("every pair reached", every)).toEqual({ "TCP/8080": every, "UDP/8080": every });
    const deny = join(repoPaths.examplePods, "..", "deny-ingress.yaml");
    expect((await kubectl("apply", "-f", deny)).code).toBe(0);
    expect(await settle("each pod only itself", selfOnly)).toEqual({
      "TCP/8080": selfOnly,
      "UDP/8080": selfOnly,
    });
    expect((await kubectl("delete", "-f", deny)).code).toBe(0);
    expect(await settle("every pair reached again", every)).toEqual({ "TCP/8080": every, "UDP/8080": every });
  }, 240_000);
});
