/** `trellisctl policy compile|explain`: output formats, verdicts and exit codes. */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { runCaptured } from "../../../cli/test/run-captured.js";
import { namespace, networkPolicy, pod } from "../../../policy/test/fixtures.js";

let dir: string;
const file = (name: string) => join(dir, name);

const run = runCaptured;

function yamlDocs(docs: object[]): string {
  return docs.map((d) => stringify(d)).join("---\n");
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "trellis-policy-cli-"));
  writeFileSync(
    file("ok.yaml"),
    yamlDocs([
      namespace("x", { team: "x" }),
      namespace("y", { team: "y" }),
      pod(
        "x",
        "web",
        { app: "web" },
        { node: "n1", ip: "10.0.1.1", ports: [{ name: "http", containerPort: 8080 }] },
      ),
      pod("y", "client", { app: "client" }, { node: "n2", ip: "10.0.2.1" }),
      networkPolicy("x", "allow-http", {
        podSelector: { matchLabels: { app: "web" } },
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { team: "y" } } }],
            ports: [{ port: "http" }, { port: "metrics" }],
          },
        ],
      }),
    ]),
  );
  writeFileSync(
    file("bad-op.yaml"),
    yamlDocs([
      networkPolicy("x", "bad", {
        podSelector: { matchExpressions: [{ key: "a", operator: "Equals", values: ["b"] }] },
      }),
    ]),
  );
  writeFileSync(file("bad-kind.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: x}\n");
  writeFileSync(
    file("bad-except.yaml"),
    yamlDocs([
      networkPolicy("x", "cidr", {
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/24", except: ["10.9.0.0/24"] } }] }],
      }),
    ]),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("trellisctl policy compile", () => {
  it("prints the nft -j document for the node, with the named-port warning on stderr", async () => {
    const r = await run("policy", "compile", "--input", file("ok.yaml"), "--node", "n1");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { nftables: Record<string, unknown>[] };
    expect(doc.nftables[0]).toHaveProperty("metainfo");
    expect(JSON.stringify(doc)).toContain('"name":"trellis"');
    expect(r.err).toMatch(
      /warning: NetworkPolicy x\/allow-http: spec.ingress\[0\].ports\[1\]: named port "metrics" matches no container port/,
    );
  });
  it("prints nft text with -o nft", async () => {
    const r = await run("policy", "compile", "--input", file("ok.yaml"), "--node", "n1", "-o", "nft");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^table inet trellis \{/);
    expect(r.out).toContain("type filter hook forward priority 0; policy accept;");
  });
  it.each([
    [
      "an invalid selector operator",
      "bad-op.yaml",
      /NetworkPolicy x\/bad: spec.podSelector.matchExpressions\[0\].operator: invalid selector operator "Equals"/,
    ],
    ["an unknown kind", "bad-kind.yaml", /Service x\/s: kind: unknown kind "Service"/],
    [
      "an except outside its CIDR",
      "bad-except.yaml",
      /NetworkPolicy x\/cidr: spec.ingress\[0\].from\[0\].ipBlock.except\[0\]: "10.9.0.0\/24" is outside cidr/,
    ],
  ])("rejects %s naming the object and field, exit 1", async (_n, f, msg) => {
    const r = await run("policy", "compile", "--input", file(f), "--node", "n1");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(msg);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
  it("a bad -o is a usage error (exit 2)", async () => {
    expect(
      (await run("policy", "compile", "--input", file("ok.yaml"), "--node", "n1", "-o", "yaml")).code,
    ).toBe(2);
  });
  it("a missing input file is a usage error (exit 2)", async () => {
    expect((await run("policy", "compile", "--input", file("nope.yaml"), "--node", "n1")).code).toBe(2);
  });
});

describe("trellisctl policy explain", () => {
  /** `trellisctl policy explain` on ok.yaml from one pod to another. */
  const explain = (from: string, to: string, ...args: string[]) =>
    run("policy", "explain", "--input", file("ok.yaml"), "--from", from, "--to", to, ...args);
  it("prints the verdict and the deciding policy and rule", async () => {
    const r = await explain("y/client", "x/web", "--port", "8080", "--protocol", "TCP");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^y\/client -> x\/web 8080\/TCP: ALLOWED/);
    expect(r.out).toMatch(
      /ingress\s+x\/web\s+allow\s+networkpolicy\s+NetworkPolicy x\/allow-http\s+ingress\[0\]/,
    );
  });
  it("denies another port, as JSON", async () => {
    const r = await explain("y/client", "x/web", "--port", "22", "-o", "json");
    const v = JSON.parse(r.out) as { allowed: boolean; decidedBy: { tier: string } };
    expect(v.allowed).toBe(false);
    expect(v.decidedBy.tier).toBe("networkpolicy");
  });
  it.each([
    ["a bad port", ["--port", "70000"], 2],
    ["a bad protocol", ["--port", "80", "--protocol", "ICMP"], 2],
  ])("rejects %s with exit %d", async (_n, extra, code) => {
    const r = await explain("y/client", "x/web", ...(extra as string[]));
    expect(r.code).toBe(code);
  });
  it("an unknown pod exits 3", async () => {
    const r = await explain("y/nope", "x/web", "--port", "80");
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/no such pod/);
  });
});
