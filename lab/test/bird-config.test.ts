import { describe, expect, it, afterAll } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planLab } from "../address-plan.js";
import { birdProtocolNames, renderBirdConfig, TOR_ORIGIN_PREFIX4 } from "../bird-config.js";

const BIRD = "/usr/sbin/bird";
const tmp = mkdtempSync(join(tmpdir(), "trellis-bird-conf-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("ToR BIRD config", () => {
  const plan = planLab({ prefix: "tlabcd-", nodes: 2, nodeAsn: 64600 });
  const text = renderBirdConfig({ plan, logFile: join(tmp, "bird.log") });

  it("declares one IPv4 and one IPv6 BGP session per node, AS 65000 toward the node's AS", () => {
    expect(text).toContain("local as 65000;");
    for (const n of plan.nodes) {
      const names = birdProtocolNames(n.index);
      expect(text).toContain(`protocol bgp ${names.v4} from lab_node4 {`);
      expect(text).toContain(`  neighbor ${n.address4} as 64600;`);
      expect(text).toContain(`  source address ${n.torAddress4};`);
      expect(text).toContain(`protocol bgp ${names.v6} from lab_node6 {`);
      expect(text).toContain(`  neighbor ${n.address6} as 64600;`);
    }
    expect(text).toContain(`router id ${plan.tor.routerId};`);
  });

  it("is a configuration BIRD 2 itself accepts (bird -p)", () => {
    // CI has every tool: a missing BIRD fails here, naming the package, rather than passing unchecked.
    if (!existsSync(BIRD))
      throw new Error(`${BIRD} is missing: install the Debian package bird2 (scripts/bootstrap)`);
    const f = join(tmp, "bird.conf");
    writeFileSync(f, text);
    expect(() => execFileSync(BIRD, ["-p", "-c", f], { stdio: "pipe" })).not.toThrow();
  });

  it("the ToR originates one prefix of its own, a blackhole in no pool, exported to the nodes", () => {
    expect(TOR_ORIGIN_PREFIX4).toBe("198.19.0.0/24");
    expect(text).toContain(
      `protocol static tor_origin4 {\n  ipv4;\n  route ${TOR_ORIGIN_PREFIX4} blackhole;\n}`,
    );
    // the node templates export all (the static route included); the kernel protocols BGP routes only
    expect(text).toMatch(/template bgp lab_node4 \{[^}]*ipv4 \{ import all; export all; \};/);
    expect(text).toContain("ipv4 { import none; export where source = RTS_BGP; };");
  });

  it("passive mode makes the ToR wait for the nodes to connect", () => {
    expect(renderBirdConfig({ plan, logFile: "/x", passive: true })).toContain("passive on;");
    expect(text).toContain("passive off;");
  });

  it("--bgp-password: TCP MD5 and BFD on every node session, a bfd protocol, and BIRD accepts it", () => {
    const withPw = renderBirdConfig({ plan, logFile: join(tmp, "bird.log"), password: "s3cret pw" });
    expect(withPw).toContain("protocol bfd {\n}");
    for (const n of plan.nodes) {
      for (const name of Object.values(birdProtocolNames(n.index))) {
        const block = withPw.slice(withPw.indexOf(`protocol bgp ${name} `)).split("\n}")[0] ?? "";
        expect(block).toContain('  password "s3cret pw";');
        expect(block).toContain("  bfd on;");
      }
    }
    expect(text).not.toContain("password");
    expect(text).not.toContain("bfd");
    if (!existsSync(BIRD)) throw new Error(`${BIRD} is missing: install the Debian package bird2`);
    const f = join(tmp, "bird-pw.conf");
    writeFileSync(f, withPw);
    expect(() => execFileSync(BIRD, ["-p", "-c", f], { stdio: "pipe" })).not.toThrow();
  });

  it("refuses a log path it cannot quote", () => {
    expect(() => renderBirdConfig({ plan, logFile: '/tmp/a"b' })).toThrow(/quote/);
  });
});
