import { describe, expect, it } from "@jest/globals";
import { classifyProbe, socatTarget } from "../probe-result.js";
import { parseDurationMs } from "../duration.js";

describe("probe verdicts", () => {
  it.each([
    [
      "a reply line means connected",
      { protocol: "TCP" as const, reply: "ns/pod", stderr: "", exitCode: null, deadline: false },
      "connected",
    ],
    [
      "TCP RST is refused",
      {
        protocol: "TCP" as const,
        reply: undefined,
        stderr: "2026/11/29 socat[1] E connect(5, AF=2 10.0.0.1:81, 16): Connection refused",
        exitCode: 1,
        deadline: false,
      },
      "refused",
    ],
    [
      "ICMP port unreachable on a UDP read is refused",
      {
        protocol: "TCP" as const,
        reply: undefined,
        stderr: "socat[2] E read(5, 0x1, 8192): Connection refused",
        exitCode: 1,
        deadline: false,
      },
      "refused",
    ],
    [
      "a TCP connect timeout is timed out",
      {
        protocol: "TCP" as const,
        reply: undefined,
        stderr: "socat[3] E connecting to AF=2 10.9.0.9:81: Connection timed out",
        exitCode: 1,
        deadline: false,
      },
      "timed out",
    ],
    [
      "silence until our deadline is timed out",
      { protocol: "TCP" as const, reply: undefined, stderr: "", exitCode: null, deadline: true },
      "timed out",
    ],
    [
      "UDP silence until -T is timed out",
      { protocol: "UDP" as const, reply: undefined, stderr: "", exitCode: 0, deadline: false },
      "timed out",
    ],
    [
      "a TCP server that closes without a word is connected",
      { protocol: "TCP" as const, reply: undefined, stderr: "", exitCode: 0, deadline: false },
      "connected",
    ],
    [
      "ICMP host unreachable is unreachable",
      {
        protocol: "TCP" as const,
        reply: undefined,
        stderr: "socat[4] E connect(...): No route to host",
        exitCode: 1,
        deadline: false,
      },
      "unreachable",
    ],
    [
      "anything else is an error",
      {
        protocol: "TCP" as const,
        reply: undefined,
        stderr: "nsenter: cannot open",
        exitCode: 1,
        deadline: false,
      },
      "error",
    ],
  ])("%s", (_name, obs, outcome) => {
    expect(classifyProbe(obs).outcome).toBe(outcome);
  });

  it("keeps the reply and the socat message without its log prefix", () => {
    expect(
      classifyProbe({ protocol: "TCP" as const, reply: "x/y", stderr: "", exitCode: null, deadline: false })
        .reply,
    ).toBe("x/y");
    expect(
      classifyProbe({
        protocol: "TCP",
        reply: undefined,
        stderr: "2026/11/29 18:26:33 socat[8971] E connect(5): Connection refused\n",
        exitCode: 1,
        deadline: false,
      }).detail,
    ).toBe("connect(5): Connection refused");
  });

  it("brackets IPv6 targets and sets the TCP connect timeout", () => {
    expect(socatTarget("TCP", "10.244.1.2", 80, 1000)).toBe("TCP:10.244.1.2:80,connect-timeout=1.000");
    expect(socatTarget("UDP", "fd00::2", 53, 1000)).toBe("UDP:[fd00::2]:53");
  });
});

describe("durations", () => {
  it.each([
    ["1s", 1000],
    ["500ms", 500],
    ["1.5s", 1500],
    ["2m", 120000],
    ["3", 3000],
  ])("%s is %d ms", (s, ms) => expect(parseDurationMs(s)).toBe(ms));
  it.each(["", "1h", "-1s", "0", "abc"])("rejects %p", (s) =>
    expect(() => parseDurationMs(s)).toThrow(/duration/),
  );
});
