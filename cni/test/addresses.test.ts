import { describe, expect, it } from "@jest/globals";
import { isCidr, isIpAddress } from "../addresses.js";

describe("address checks", () => {
  it.each([
    ["10.0.0.1", true],
    ["fd00::1", true],
    ["300.0.0.1", false],
    ["10.0.0.1/32", false],
    ["", false],
  ])("isIpAddress(%j) is %s", (s, want) => expect(isIpAddress(s)).toBe(want));

  it.each([
    ["10.0.0.0/8", true],
    ["10.0.0.5/32", true],
    ["fd00::/128", true],
    ["10.0.0.0/33", false],
    ["fd00::/129", false],
    ["10.0.0.0/08", false],
    ["10.0.0.0/", false],
    ["10.0.0.0", false],
    ["x/8", false],
  ])("isCidr(%j) is %s", (s, want) => expect(isCidr(s)).toBe(want));
});
