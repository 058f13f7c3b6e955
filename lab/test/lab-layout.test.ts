// lab/lab-layout.ts: where a lab's files are (pure), and that `lab down` knows every one of them.
import { describe, expect, it } from "@jest/globals";
import { basename, dirname } from "node:path";
import { LAB_ENTRIES, labLayout } from "../lab-layout.js";

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

  it("every entry it makes in the lab dir is one `lab down` removes", () => {
    const top = Object.values(L).filter((v): v is string => typeof v === "string" && dirname(v) === "/lab");
    expect(top.length).toBeGreaterThanOrEqual(10);
    expect(top.map((f) => basename(f)).filter((e) => !LAB_ENTRIES.includes(e))).toEqual([]);
  });
});
