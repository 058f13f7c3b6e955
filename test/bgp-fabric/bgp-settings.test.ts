// End to end, as root: BGP settings that act on a running agent (issue 9),
// on a 1-node fabric, without restarting it.
// - BGPConfiguration `logSeverity`: Debug makes the agent's BGP logger (the
//   speaker's) write debug lines; Warning silences its info lines.
// - BGPPeer `reachableBy`: the agent installs a host route to the peer's
//   address via that gateway (proto 201) and removes it when the BGPPeer goes.
import { expect, it } from "@jest/globals";
import { readFileSync, statSync } from "node:fs";
import { labLayout } from "../../lab/lab-layout.js";
import { maybe } from "../lab/suite-lab.js";
import { applyYaml, labForSuite, mergePatch, routesShow, waitFor } from "./fabric-lab.js";

/** A peer nobody answers for, behind the ToR (TEST-NET-1, RFC 5737). */
const FAR = "192.0.2.77";
const TOR = "198.18.0.0";

interface LogLine {
  level: number;
  component?: string;
  msg?: string;
  peer?: string;
  bgpLogLevel?: string;
}

maybe("BGP fabric: logSeverity and reachableBy at runtime (1 node)", () => {
  const { lab } = labForSuite(1, "settings");
  const logFile = (): string => labLayout(lab.dir).node("node-1").agentLog;
  /** The agent's log lines from byte `from` on, as JSON (pino). */
  const logSince = (from: number): LogLine[] =>
    readFileSync(logFile(), "utf8")
      .slice(from)
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as LogLine);
  const bgpLines = (from: number): LogLine[] => logSince(from).filter((l) => l.component === "bgp");
  const setSeverity = async (severity: string, level: string): Promise<number> => {
    const from = statSync(logFile()).size;
    await mergePatch(lab, "bgpconfiguration", "default", { spec: { logSeverity: severity } });
    await waitFor(`the BGP log level ${level}`, async () =>
      bgpLines(from).some((l) => l.msg === "BGP log level set" && l.bgpLogLevel === level) ? true : undefined,
    );
    return statSync(logFile()).size;
  };
  const farRoute = async (): Promise<string[]> => routesShow(lab, "node-1", FAR, "proto", "201");

  it("logSeverity Debug: the BGP logger writes debug lines (a new peer's FSM transitions)", async () => {
    const from = await setSeverity("Debug", "debug");
    await applyYaml(
      lab,
      `apiVersion: trellis.dev/v1alpha1
kind: BGPPeer
metadata: {name: far}
spec: {node: node-1, peerIP: "${FAR}", asNumber: 65077, reachableBy: "${TOR}"}
`,
    );
    const debug = await waitFor("a debug line from the BGP logger", async () =>
      bgpLines(from).find((l) => l.level === 20 && l.peer === FAR),
    );
    expect(debug.msg).toBe("fsm transition");
  }, 60_000);

  it("reachableBy: a host route to peerIP via the gateway, proto 201", async () => {
    const lines = await waitFor(`a route to ${FAR}`, async () => {
      const r = await farRoute();
      return r.length > 0 ? r : undefined;
    });
    expect(lines.map((l) => l.trim())).toEqual([`${FAR} via ${TOR} dev eth0`]);
  }, 60_000);

  it("logSeverity Warning silences the BGP logger's info and debug; deleting the BGPPeer removes its route", async () => {
    const from = await setSeverity("Warning", "warn");
    const del = await lab.kubectl("delete", "bgppeer", "far");
    expect(del.code).toBe(0);
    await waitFor(`the route to ${FAR} removed`, async () =>
      (await farRoute()).length === 0 ? true : undefined,
    );
    // The peer's removal and the route's were done (and would be logged at info): nothing below warn.
    expect(bgpLines(from).filter((l) => l.level < 40)).toEqual([]);
  }, 60_000);
});
