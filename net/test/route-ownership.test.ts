import { describe, it, expect, afterAll } from "@jest/globals";
import { mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  PROTO_TRELLIS_BGP,
  PROTO_TRELLIS_LOCAL,
  TABLE_MAIN,
  isProto,
  isTrellisProto,
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
  it("a write that fails is an outcome, not an exception", () => {
    const d = join(dir, "blocked");
    mkdirSync(d);
    // A directory where the file goes: the rename fails even for root (a read-only /etc would too).
    mkdirSync(join(d, "trellis.conf"));
    expect(writeRtProtos(d)).toMatch(/^failed: /);
    expect(readdirSync(d)).toEqual(["trellis.conf"]);
  });

  // `ip route` prints the name once rt_protos.d has it, the number otherwise.
  it.each([
    ["201", PROTO_TRELLIS_LOCAL, true],
    ["trellis", PROTO_TRELLIS_LOCAL, true],
    ["202", PROTO_TRELLIS_BGP, true],
    ["trellis-bgp", PROTO_TRELLIS_BGP, true],
    ["trellis-bgp", PROTO_TRELLIS_LOCAL, false],
    ["trellis", PROTO_TRELLIS_BGP, false],
    ["bird", PROTO_TRELLIS_BGP, false],
    [undefined, PROTO_TRELLIS_LOCAL, false],
  ])("isProto(%p, %p) is %p", (printed, proto, want) => {
    expect(isProto(printed, proto)).toBe(want);
  });
  it("isTrellisProto: 201 and 202 by number or name, nothing else", () => {
    expect(["201", "trellis", "202", "trellis-bgp"].every(isTrellisProto)).toBe(true);
    expect(["boot", "kernel", "static", "bird", "186", "2010"].some(isTrellisProto)).toBe(false);
  });
});
