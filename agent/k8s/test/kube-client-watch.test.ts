/**
 * KubeClient.watch against a loopback HTTP server that sends what a real
 * API server never should: a line that is not an event. The watch must end
 * with the error (client-go's StreamWatcher stops on a decode error), after
 * delivering the events before it, so the informer relists instead of
 * running on a cache that may have missed a DELETED.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { WatchDecodeError, type WatchEvent } from "../kube-request.js";
import { type Loopback, startLoopback } from "./loopback-server.js";

let server: Loopback;
/** What the server writes on the watch, then it keeps the stream open. */
let body = "";

beforeAll(async () => {
  server = await startLoopback((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write(body);
  });
});

afterAll(() => server.close());

function watchOnce(): Promise<{ events: WatchEvent[]; err: unknown }> {
  return new Promise((resolve, reject) => {
    const events: WatchEvent[] = [];
    const t = setTimeout(() => reject(new Error("the watch did not end within 5 s")), 5000);
    server.client.watch(
      "/api/v1/pods",
      { resourceVersion: "1" },
      (ev) => events.push(ev),
      (err) => {
        clearTimeout(t);
        resolve({ events, err });
      },
    );
  });
}

describe("a watch whose stream holds a line that is not an event", () => {
  it("delivers the events before it, then ends with a WatchDecodeError naming the line", async () => {
    body =
      '{"type":"ADDED","object":{"metadata":{"name":"a"}}}\nnot-an-event\n{"type":"DELETED","object":{}}\n';
    const { events, err } = await watchOnce();
    expect(events).toEqual([{ type: "ADDED", object: { metadata: { name: "a" } } }]);
    expect(err).toBeInstanceOf(WatchDecodeError);
    expect((err as Error).message).toContain('"not-an-event"');
  });
});
