import { describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { AGENT_NODE_ENV, AGENT_NODE_FLAGS } from "../bin/node-flags.js";

describe("AGENT_NODE_FLAGS: how every launcher starts trellis-node", () => {
  it("this Node.js accepts every flag (a flag it rejects would stop the agent from starting at all)", () => {
    const r = spawnSync(process.execPath, [...AGENT_NODE_FLAGS, "-e", "process.stdout.write('up')"], {
      encoding: "utf8",
      env: { ...process.env, ...AGENT_NODE_ENV },
      timeout: 30_000,
    });
    expect(r.stderr).toBe("");
    expect([r.status, r.stdout]).toEqual([0, "up"]);
  });

  it("MALLOC_ARENA_MAX is a positive count (glibc ignores anything else)", () => {
    expect(AGENT_NODE_ENV["MALLOC_ARENA_MAX"]).toMatch(/^[1-9]\d*$/);
  });
});
