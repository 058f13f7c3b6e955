// The daemon core in-process on loopback: SIGHUP-style reloads applied as a
// diff, the control socket, and `trellisctl bgp` against it.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { connect } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Daemon } from "../../bgp/bin/daemon.js";
import { parseConfig, type SpeakerConfigFile } from "../../bgp/config.js";
import { pino } from "pino";
import { Speaker } from "../../bgp/speaker.js";
import { fetchPeers, fetchRoutes } from "../../bgp/control/client.js";
import { runCli } from "../../cli/program.js";
import { recordingLogger } from "../../bgp/test/support.js";

const dir = mkdtempSync(join(tmpdir(), "tBdm-"));
const sock = join(dir, "bgp.sock");
const quiet = pino({ level: "silent" });
let daemon: Daemon;
let other: Speaker;
/** NOTIFICATIONs `other` received, as "code/subcode text". */
const received: string[] = [];
const record = recordingLogger("received NOTIFICATION", "text", received);

function cfg(extra: string): SpeakerConfigFile {
  return parseConfig(`
asn: 65001
routerId: 10.0.0.1
listen: { address: 127.0.0.1, port: 0 }
holdTime: 9
connectRetryTime: 1
control: { socket: ${sock} }
${extra}`);
}
/** The other speaker listens on an ephemeral port, known once it runs. */
let PEER = "";

async function until(f: () => boolean | Promise<boolean>, what: string, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  other = new Speaker({
    asn: 65002,
    routerId: "10.0.0.2",
    listen: { address: "127.0.0.2", port: 0 },
    holdTime: 9,
    logger: record,
  });
  other.addPeer({
    address: "127.0.0.1",
    asn: 65001,
    port: 179, // passive: it never connects out
    localAddress: "127.0.0.2",
    passive: true,
    families: ["ipv4-unicast"],
  });
  await other.start();
  PEER = `peers: [{ address: 127.0.0.2, asn: 65002, port: ${other.listenPort}, localAddress: 127.0.0.1, families: [ipv4-unicast] }]`;
  daemon = await Daemon.start(cfg("originate: [{ prefix: 10.7.0.0/24 }]"), quiet);
});

afterAll(async () => {
  await daemon?.stop();
  await other?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("reload (SIGHUP)", () => {
  it("an added peer starts and receives our origins", async () => {
    daemon.reload(cfg(`${PEER}\noriginate: [{ prefix: 10.7.0.0/24 }]`));
    await until(() => other.peerState("127.0.0.1") === "Established", "session");
    await until(() => other.ribView.route("10.7.0.0/24") !== undefined, "route");
  });

  it("changed origins are advertised and withdrawn; the session stays up", async () => {
    const msgsBefore = other.peerStatus()[0]!.messages.received;
    daemon.reload(cfg(`${PEER}\noriginate: [{ prefix: 10.8.0.0/24, communities: ["65001:8"] }]`));
    await until(() => other.ribView.route("10.8.0.0/24") !== undefined, "new origin");
    await until(() => other.ribView.route("10.7.0.0/24") === undefined, "withdrawn origin");
    expect(other.routeStatus().find((r) => r.prefix === "10.8.0.0/24")!.paths[0]!.communities).toEqual([
      "65001:8",
    ]);
    const s = other.peerStatus()[0]!;
    expect(s.state).toBe("Established");
    expect(s.messages.received).toBeGreaterThan(msgsBefore);
    expect(s.lastError).toBeUndefined();
  });

  it("the control socket and trellisctl show sessions and routes", async () => {
    const peers = await fetchPeers(sock);
    expect(peers[0]).toMatchObject({ address: "127.0.0.2", state: "Established", type: "ebgp", holdTime: 9 });
    expect(peers[0]!.prefixes.advertised).toBe(1);
    const routes = await fetchRoutes(sock);
    expect(routes.map((r) => r.prefix)).toEqual(["10.8.0.0/24"]);
    expect(routes[0]!.reason).toBe("only-path");

    let out = "";
    const io = { out: (s: string) => (out += s), err: (s: string) => (out += s) };
    expect(await runCli(["bgp", "peers", "--socket", sock], io)).toBe(0);
    expect(out).toMatch(/^PEER\s+ASN\s+TYPE\s+STATE/);
    expect(out).toMatch(/127\.0\.0\.2\s+65002\s+ebgp\s+Established/);
    out = "";
    expect(await runCli(["bgp", "routes", "--socket", sock, "-o", "json"], io)).toBe(0);
    expect((JSON.parse(out) as { prefix: string }[])[0]!.prefix).toBe("10.8.0.0/24");
    out = "";
    expect(await runCli(["bgp", "peers", "--socket", join(dir, "nope.sock")], io)).toBe(1);
    expect(out).toContain("cannot reach trellis-bgp");
    out = "";
    expect(await runCli(["bgp", "peers", "--socket", sock, "-o", "yaml"], io)).toBe(2);
  });

  it("the control socket answers bad requests with an error, not a crash", async () => {
    const answer = await new Promise<string>((resolve) => {
      const c = connect(sock);
      let buf = "";
      c.on("data", (d) => {
        buf += d.toString();
        if (buf.split("\n").length > 2) {
          c.destroy();
          resolve(buf);
        }
      });
      c.write('not json\n{"id":7,"method":"reboot"}\n');
    });
    const [a, b] = answer
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { ok: boolean; id?: number; error: { code: string } });
    expect(a).toMatchObject({ ok: false, error: { code: "TRELLIS_ECTL_JSON" } });
    expect(b).toMatchObject({ ok: false, id: 7, error: { code: "TRELLIS_ECTL_REQUEST" } });
    expect((await fetchPeers(sock)).length).toBe(1);
  });

  it("a changed session setting resets the session with Cease / Other Configuration Change", async () => {
    daemon.reload(
      cfg(
        `${PEER.replace("families:", "holdTime: 30, families:")}\noriginate: [{ prefix: 10.8.0.0/24, communities: ["65001:8"] }]`,
      ),
    );
    await until(() => received.some((t) => t.includes("6/6")), "Cease 6/6");
    expect(received.find((t) => t.includes("6/6"))).toContain(
      "NOTIFICATION 6/6 Cease / Other Configuration Change",
    );
    await until(() => other.peerState("127.0.0.1") === "Established", "session back", 15000);
    expect(other.peerStatus()[0]!.holdTime).toBe(9);
    expect((await fetchPeers(sock))[0]!.holdTime).toBe(9);
  });

  it("a removed peer gets Cease / Peer De-configured", async () => {
    daemon.reload(cfg(""));
    await until(() => (other.peerStatus()[0]!.lastError ?? "").includes("6/3"), "Cease 6/3");
    expect(other.peerStatus()[0]!.lastError).toContain(
      "received NOTIFICATION 6/3 Cease / Peer De-configured",
    );
    expect(other.ribView.route("10.8.0.0/24")).toBeUndefined();
  });
});

describe("trellis-bgp command line", () => {
  const bin = join(new URL("../../..", import.meta.url).pathname, "dist/bgp/bin/trellis-bgp.js");
  it.each([
    ["a bad field", "asn: 70000000000\nrouterId: 10.0.0.1\n", "asn: must be 1..4294967295"],
    ["a missing file", undefined, "cannot read"],
  ])("a config error (%s) is one clear message and exit code 2", (_n, text, want) => {
    const f = join(dir, "bad.yaml");
    if (text !== undefined) writeFileSync(f, text);
    const r = spawnSync(
      process.execPath,
      [bin, "--config", text === undefined ? join(dir, "missing.yaml") : f],
      {
        encoding: "utf8",
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(want);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe("");
  });
});
