import { describe, expect, it } from "@jest/globals";
import { normalizePeer } from "../peer-echo.js";

describe("peer echo: socat's peer address as canonical text", () => {
  it.each([
    ["[0000:0000:0000:0000:0000:ffff:c612:0001]\n", "198.18.0.1"],
    ["[fd00:0000:0000:0000:0000:0000:0000:0001]", "fd00::1"],
    ["[FD00:10:244:1::5]", "fd00:10:244:1::5"],
    ["198.18.0.1", "198.18.0.1"],
  ])("%j -> %s", (raw, want) => {
    expect(normalizePeer(raw)).toBe(want);
  });
});
