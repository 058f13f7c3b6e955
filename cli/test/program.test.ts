import { describe, expect, it } from "@jest/globals";
import { runCaptured } from "./run-captured.js";
import { EXIT_OK, EXIT_USAGE } from "../exit-codes.js";
import { formatTable } from "../output.js";

const run = runCaptured;

describe("trellisctl exit codes", () => {
  it("--version prints the package version and exits 0", async () => {
    const r = await run("--version");
    expect(r.code).toBe(EXIT_OK);
    expect(r.out).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
  it("--help exits 0 and lists the lab command", async () => {
    const r = await run("--help");
    expect(r.code).toBe(EXIT_OK);
    expect(r.out).toContain("lab");
  });
  it("an unknown flag prints usage help and exits 2", async () => {
    const r = await run("--no-such-flag");
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toContain("unknown option '--no-such-flag'");
    expect(r.err).toContain("--help");
  });
  it("an unknown command exits 2", async () => {
    const r = await run("frobnicate");
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toContain("unknown command");
  });
});

describe("table output", () => {
  it("aligns columns and upper-cases headers", () => {
    expect(
      formatTable(
        ["name", "state"],
        [
          ["a", "up"],
          ["long-name", undefined],
        ],
      ),
    ).toBe("NAME       STATE\na          up\nlong-name  <none>\n");
  });
});
