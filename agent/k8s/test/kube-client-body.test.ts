/**
 * KubeClient reading an answer: the whole body, or, when the server's
 * connection ends before the body it announced, an error naming the
 * request (the informers retry), never a truncated JSON handed on.
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { type Loopback, startLoopback } from "./loopback-server.js";

let server: Loopback | undefined;
afterEach(() => server?.close());

describe("KubeClient answers", () => {
  it("a body in several chunks is read whole", async () => {
    server = await startLoopback((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"items":');
      setTimeout(() => res.end('[{"a":1}]}'), 20);
    });
    expect(await server.client.get("/api/v1/pods")).toEqual({ items: [{ a: 1 }] });
  });

  it("a connection that ends mid-answer is an error naming the request", async () => {
    server = await startLoopback((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write('{"items":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await expect(server.client.get("/api/v1/pods")).rejects.toThrow(
      "GET /api/v1/pods: connection closed mid-answer",
    );
  });
});
