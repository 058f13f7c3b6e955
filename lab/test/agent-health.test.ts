// The lab's reading of trellis-node's /readyz reply (agent/http-server.ts).
import { describe, expect, it } from "@jest/globals";
import { parseHttpReply, readinessFromReply } from "../agent-health.js";

describe("agent /readyz reply", () => {
  it.each([
    [
      "200 is ready",
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nok\n",
      { ready: true, detail: "ok" },
    ],
    [
      "503 carries the agent's reason",
      "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\r\nnot ready: first sync pending\n",
      { ready: false, detail: "/readyz 503: not ready: first sync pending" },
    ],
    [
      "404 (not the agent) is not ready",
      "HTTP/1.0 404 Not Found\r\n\r\n",
      { ready: false, detail: "/readyz 404" },
    ],
    ["no bytes is no reply", "", { ready: false, detail: "no reply" }],
    ["something else is not HTTP", "SSH-2.0-OpenSSH\r\n", { ready: false, detail: "not an HTTP reply" }],
  ])("%s", (_name, raw, want) => {
    expect(readinessFromReply(raw)).toEqual(want);
  });

  it("splits status and body at the first blank line (LF-only replies too)", () => {
    expect(parseHttpReply("HTTP/1.1 200 OK\nx: y\n\nbody\n\nmore")).toEqual({
      status: 200,
      body: "body\n\nmore",
    });
  });
});
