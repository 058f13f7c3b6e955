// End to end, as root: `trellisctl lab up --bgp-password PW` (issue 13). The
// lab writes the Secret kube-system/bgp-password, each ToR BGPPeer names it
// and turns BFD on, and BIRD signs its node sessions with the same TCP MD5 key
// and runs BFD on them. Two nodes: every ToR session Established (BIRD drops
// unsigned or wrongly signed segments, so Established means both sides use the
// key), a BFD session Up per node and family, a wrong key in the Secret
// dropping the sessions (the agents read it) and the right one restoring
// them, and pods on different nodes reach each other through the fabric.
import { beforeAll, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { repoPaths } from "../../lab/repo-paths.js";
import { until } from "../support/until.js";
import { maybe, run, trellisctl, useSuiteLab } from "./lab-run.js";

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
    const r = await trellisctl("lab", "up", "--nodes", "2", "--dir", dir, "--bgp-password", PASSWORD);
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
    // The agents re-read the Secret on their 10 s resync.
    await setPassword("wrong");
    await until(
      "no ToR session Established",
      async () => (await states()).every((s) => s !== "Established"),
      40_000,
      500,
    );
    await setPassword(PASSWORD);
    await until(
      "every ToR session Established again",
      async () => (await states()).every((s) => s === "Established"),
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
});
