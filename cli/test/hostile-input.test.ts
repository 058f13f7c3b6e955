import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCaptured } from "./run-captured.js";
import { EXIT_FAILURE, EXIT_USAGE } from "../exit-codes.js";

// Hostile inputs a user can type: each must give one clear line naming the
// problem and the documented exit code (cli/exit-codes.ts), never a leaked
// JavaScript error ("Cannot read properties of undefined …").
let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "trellisctl-hostile-"));
  writeFileSync(join(dir, "empty.yaml"), "");
  writeFileSync(join(dir, "no-cluster.yaml"), "clusters: 5\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runCaptured;

describe("trellisctl with hostile input", () => {
  it.each([
    ["an empty kubeconfig", "empty.yaml", /kubeconfig .*empty\.yaml: not a kubeconfig/],
    ["a kubeconfig without a cluster", "no-cluster.yaml", /kubeconfig .*no-cluster\.yaml: no cluster/],
  ])("ipam show with %s exits 2 naming the file", async (_what, file, message) => {
    const r = await run("ipam", "show", "--kubeconfig", join(dir, file));
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/Cannot read properties|No active cluster/);
  });

  it.each([
    ["not JSON", "{", /lab\.json is not a lab state file: .*JSON/],
    ["a wrong field", '{"version": "x"}', /lab\.json is not a lab state file: version: /],
  ])("lab status with a lab.json that is %s names the file and the field", async (_what, text, message) => {
    const lab = mkdtempSync(join(dir, "lab-"));
    writeFileSync(join(lab, "lab.json"), text);
    const r = await run("lab", "status", "--dir", lab);
    expect(r.code).toBe(EXIT_FAILURE);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  it("policy explain with a --from that is neither NS/POD nor an IP is a usage error", async () => {
    const r = await run(
      "policy",
      "explain",
      "--input",
      join(dir, "empty.yaml"),
      "--from",
      "justaname",
      "--to",
      "x/b",
      "--port",
      "80",
    );
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toContain('invalid --from "justaname": expected NAMESPACE/POD or an IP address');
  });
});
