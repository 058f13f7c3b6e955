// lab/lab-layout.ts: where a lab's files are (pure), and that `lab down` knows every one of them.
import { describe, expect, it } from "@jest/globals";
import { LAB_ENTRIES, labLayout } from "../lab-layout.js";
import { controlPlaneLayout } from "../controlplane/layout.js";

describe("labLayout", () => {
  const L = labLayout("/lab");

  it("puts the state, the API server's files, the ToR and the nodes under the lab dir", () => {
    expect([L.stateFile, L.apiserverSocket, L.birdConfig, L.birdSocket, L.node("node-1").kubeconfig]).toEqual(
      [
        "/lab/lab.json",
        "/lab/apiserver.sock",
        "/lab/tor/bird.conf",
        "/lab/tor/bird.ctl",
        "/lab/nodes/node-1/kubeconfig",
      ],
    );
  });

  it("`lab down` removes exactly these top-level entries (and so leaves anything else in the dir alone)", () => {
    expect([...LAB_ENTRIES].sort()).toEqual([
      "apiserver-state",
      "apiserver.log",
      "apiserver.out",
      "apiserver.pid",
      "apiserver.sock",
      "chart-values.json",
      "controlplane",
      "images",
      "kubeconfig",
      "lab.json",
      "nodes",
      "tor",
    ]);
  });

  it("every path the lab's layouts (lab, node, real control plane) put in the lab dir is under one of them", () => {
    const paths = [L, L.node("node-1"), controlPlaneLayout("/lab")].flatMap(strings);
    const top = new Set(paths.filter((p) => p.startsWith("/lab/")).map((p) => p.split("/")[2] ?? ""));
    expect(top.size).toBeGreaterThanOrEqual(10);
    expect([...top].filter((e) => !LAB_ENTRIES.includes(e))).toEqual([]);
  });
});

/** Every string of a layout, nested ones (ComponentFiles) included. */
function strings(o: object): string[] {
  return Object.values(o).flatMap((v: unknown) =>
    typeof v === "string" ? [v] : typeof v === "object" && v !== null ? strings(v) : [],
  );
}
