import { describe, it, expect, afterAll } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  PROTO_TRELLIS_BGP,
  PROTO_TRELLIS_LOCAL,
  TABLE_MAIN,
  rtProtosText,
  writeRtProtos,
} from "../route-ownership.js";

describe("route ownership (docs/architecture.md pinned contract)", () => {
  it("the agent's local routes are proto 201, BGP-learned routes proto 202, both in main", () => {
    expect([PROTO_TRELLIS_LOCAL, PROTO_TRELLIS_BGP, TABLE_MAIN]).toEqual([201, 202, 254]);
  });
  it("rt_protos names them trellis and trellis-bgp", () => {
    expect(rtProtosText()).toMatch(/^201\ttrellis$/m);
    expect(rtProtosText()).toMatch(/^202\ttrellis-bgp$/m);
  });

  const dir = mkdtempSync(join(tmpdir(), "trellis-rtprotos-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes nothing where rt_protos.d does not exist", () => {
    expect(writeRtProtos(join(dir, "absent"))).toBe("no-directory");
    expect(existsSync(join(dir, "absent"))).toBe(false);
  });
  it("writes the file once, then leaves it alone (idempotent)", () => {
    const d = join(dir, "rt_protos.d");
    mkdirSync(d);
    expect(writeRtProtos(d)).toBe("written");
    expect(readFileSync(join(d, "trellis.conf"), "utf8")).toBe(rtProtosText());
    expect(writeRtProtos(d)).toBe("unchanged");
  });
});
