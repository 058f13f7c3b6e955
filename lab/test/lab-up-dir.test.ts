import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labUp } from "../lab-up.js";
import { LabError } from "../lab-errors.js";

// A --dir that cannot be a directory is the user's mistake: a usage error
// naming the flag, raised before the lab creates anything (no netns, no process).
let tmp = "";
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "lab-up-dir-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("lab up --dir", () => {
  it.each([
    ["a regular file", (): string => join(tmp, "file"), "EEXIST"],
    ["below a regular file", (): string => join(tmp, "file", "lab"), "ENOTDIR"],
  ])("%s is a usage error naming --dir", async (_n, dir, code) => {
    writeFileSync(join(tmp, "file"), "keep\n");
    const err = await labUp({ dir: dir(), nodes: 1, cni: "ptp" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).kind).toBe("usage");
    expect((err as LabError).message).toBe(`--dir ${dir()}: cannot use it as the lab directory (${code})`);
    expect(readFileSync(join(tmp, "file"), "utf8")).toBe("keep\n");
  });
});
