import { describe, expect, it } from "@jest/globals";
import { ApiGate, type GateDecision, type GateEvent, type GateState, gateStep } from "../api-gate.js";

const UP: GateState = { down: false, prober: undefined };
const DOWN_A: GateState = { down: true, prober: "pods" };
const DOWN_UNPROBED: GateState = { down: true, prober: undefined };
const ev = (type: GateEvent["type"], informer: string): GateEvent => ({ type, informer });

describe("gateStep: one prober per agent while the API server is away", () => {
  const rows: [string, GateState, GateEvent, GateState, GateDecision][] = [
    [
      "the first failure closes the gate and makes its informer the prober",
      UP,
      ev("failed", "pods"),
      DOWN_A,
      "none",
    ],
    ["a later failure keeps the prober", DOWN_A, ev("failed", "nodes"), DOWN_A, "none"],
    ["the prober may attempt while down", DOWN_A, ev("ask", "pods"), DOWN_A, "attempt"],
    ["any other informer waits while down", DOWN_A, ev("ask", "nodes"), DOWN_A, "wait"],
    ["everyone may attempt while up", UP, ev("ask", "nodes"), UP, "attempt"],
    [
      "a success of anyone opens the gate and releases the waiters",
      DOWN_A,
      ev("succeeded", "nodes"),
      UP,
      "release",
    ],
    ["a success while up changes nothing", UP, ev("succeeded", "pods"), UP, "none"],
    ["a prober that stops hands the probe on", DOWN_A, ev("gone", "pods"), DOWN_UNPROBED, "promote"],
    ["a waiter that stops changes nothing", DOWN_A, ev("gone", "nodes"), DOWN_A, "none"],
    [
      "down without a prober: the first to ask becomes it",
      DOWN_UNPROBED,
      ev("ask", "nodes"),
      { down: true, prober: "nodes" },
      "attempt",
    ],
  ];
  it.each(rows)("%s", (_rule, state, event, next, decision) => {
    const r = gateStep(state, event);
    expect(r.state).toEqual(next);
    expect(r.decision).toBe(decision);
  });
});

describe("ApiGate: waiters run when the gate opens, or after the longest wait", () => {
  it("holds every informer but the prober until one succeeds, then runs them all", () => {
    const gate = new ApiGate(60_000);
    const ran: string[] = [];
    for (const n of ["pods", "nodes", "ippools"]) gate.failed(n);
    for (const n of ["pods", "nodes", "ippools"]) gate.whenMayAttempt(n, () => ran.push(n));
    expect(ran).toEqual(["pods"]);
    expect(gate.waiters).toBe(2);
    gate.succeeded("pods");
    expect(ran.sort()).toEqual(["ippools", "nodes", "pods"]);
    expect(gate.waiters).toBe(0);
    expect(gate.down).toBe(false);
  });

  it("a waiter goes anyway after maxWaitMs (a prober stuck on its own error holds nobody for good)", async () => {
    const gate = new ApiGate(30);
    const ran: string[] = [];
    gate.failed("tenants");
    gate.failed("pods");
    gate.whenMayAttempt("pods", () => ran.push("pods"));
    expect(ran).toEqual([]);
    await new Promise((r) => setTimeout(r, 80));
    expect(ran).toEqual(["pods"]);
  });

  it("when the prober stops, one waiter becomes the prober and attempts", () => {
    const gate = new ApiGate(60_000);
    const ran: string[] = [];
    gate.failed("pods");
    gate.failed("nodes");
    gate.whenMayAttempt("nodes", () => ran.push("nodes"));
    expect(ran).toEqual([]);
    gate.gone("pods");
    expect(ran).toEqual(["nodes"]);
    expect(gate.down).toBe(true);
  });
});
