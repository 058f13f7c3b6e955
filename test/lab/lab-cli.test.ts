// trellisctl lab flag handling: bad input is a usage error (exit 2) before anything runs.
import { describe, expect, it } from "@jest/globals";
import { runCaptured } from "../../cli/test/run-captured.js";
import { EXIT_NOT_FOUND, EXIT_USAGE } from "../../cli/exit-codes.js";

const run = runCaptured;

describe("trellisctl lab: bad flags exit 2 with usage", () => {
  it.each([
    [["lab", "up", "--nodes", "0"], /--nodes must be from 1 to 254/],
    [["lab", "up", "--nodes", "three"], /--nodes must be an integer/],
    [["lab", "up", "--cni", "flannel"], /Allowed choices are ptp, trellis/],
    [["lab", "up", "--node-asn", "4294967296"], /--node-asn must be from 1/],
    [["lab", "up", "--route-reflectors", "two"], /--route-reflectors must be an integer/],
    [
      ["lab", "up", "--nodes", "2", "--route-reflectors", "3"],
      /--route-reflectors must be an integer from 0 to --nodes \(2\)/,
    ],
    [["lab", "probe", "--to", "a/b", "--port", "80"], /required option '--from/],
    [["lab", "probe", "--from", "a/b", "--to", "a/c", "--port", "70000"], /port must be from 1 to 65535/],
    [
      ["lab", "probe", "--from", "a/b", "--to", "a/c", "--port", "80", "--protocol", "SCTP"],
      /protocol must be TCP or UDP/,
    ],
    [
      ["lab", "probe", "--from", "a/b", "--to", "a/c", "--port", "80", "--timeout", "forever"],
      /invalid duration/,
    ],
    [["lab", "matrix", "--port", "0"], /port must be from 1/],
    [["lab", "status", "-o", "yaml"], /Allowed choices are json, table/],
    [["lab", "up", "--control-plane", "kind"], /Allowed choices are embedded, real/],
    [["lab", "frobnicate"], /unknown command/],
    // a malformed pod reference
    [
      ["lab", "probe", "--dir", "/nonexistent-lab", "--from", "nopod", "--to", "a/c", "--port", "80"],
      /"nopod" is not NAMESPACE\/POD/,
    ],
  ])("%j", async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toMatch(message);
  });

  it("status of a dir without a lab is 'not found' (exit 3)", async () => {
    const r = await run("lab", "status", "--dir", "/nonexistent-lab");
    expect(r.code).toBe(EXIT_NOT_FOUND);
    expect(r.err).toContain("no lab in /nonexistent-lab");
  });
});

describe("trellisctl lab up --help", () => {
  it("names trellis as the default CNI and ptp as the other choice", async () => {
    const r = await run("lab", "up", "--help");
    expect(r.code).toBe(0);
    expect(r.out.replace(/\s+/g, " ")).toMatch(
      /--cni <mode> .*\(choices: "ptp", "trellis", default: "trellis"\)/,
    );
  });

  it("names the real control plane as the default and embedded as the other choice", async () => {
    const r = await run("lab", "up", "--help");
    expect(r.out.replace(/\s+/g, " ")).toMatch(
      /--control-plane <kind> .*\(choices: "embedded", "real", default: "real"\)/,
    );
  });

  it("names real nodes as the default kubelet (the stand-in under the embedded control plane)", async () => {
    const r = await run("lab", "up", "--help");
    expect(r.out.replace(/\s+/g, " ")).toMatch(
      /--kubelet <kind> .*\(default: real; standin under --control-plane embedded\) \(choices: "standin", "real"\)/,
    );
  });
});
