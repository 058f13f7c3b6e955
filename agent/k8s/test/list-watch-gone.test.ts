/**
 * ListWatch against a loopback API server that says 410 Gone, both ways the
 * API sends it (api-concepts "Efficient detection of changes", "410 Gone
 * responses"): as the HTTP status of the watch request, and as an ERROR
 * event on an open watch whose object is a Status with code 410. Either
 * way a list from scratch must follow, the watch resume from that list's
 * resourceVersion, and the listeners see each change once: nothing lost
 * (the object deleted while the watch was gone), nothing repeated (the
 * objects the relist finds unchanged).
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import type { ServerResponse } from "node:http";
import { ListWatch, type ListResult } from "../list-watch.js";
import { type Loopback, startLoopback } from "./loopback-server.js";

interface O {
  metadata: { name: string; resourceVersion: string };
}
const o = (name: string, rv: string): O => ({ metadata: { name, resourceVersion: rv } });
const gone = {
  kind: "Status",
  status: "Failure",
  reason: "Expired",
  code: 410,
  message: "too old resource version",
};

function answer(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** Writes watch events; the stream stays open unless `end`. */
function events(res: ServerResponse, evs: { type: string; object: unknown }[], end: boolean): void {
  res.writeHead(200, { "content-type": "application/json" });
  for (const ev of evs) res.write(`${JSON.stringify(ev)}\n`);
  if (end) res.end();
}

const firstList = { items: [o("a", "1"), o("b", "2")], metadata: { resourceVersion: "10" } };
// b was deleted and d added while the watch was gone; a and c are unchanged.
const relist = { items: [o("a", "1"), o("c", "11"), o("d", "12")], metadata: { resourceVersion: "12" } };
const addedC = { type: "ADDED", object: o("c", "11") };

/** What the server answers to each watch request in turn (the last one stays open, silent). */
const cases: { how: string; watches: ((res: ServerResponse) => void)[]; requests: string[] }[] = [
  {
    how: "HTTP 410 on the watch request",
    watches: [(res) => events(res, [addedC], true), (res) => answer(res, 410, gone)],
    requests: ["list", "watch rv=10", "watch rv=11", "list", "watch rv=12"],
  },
  {
    how: "an ERROR event with code 410 on an open watch",
    watches: [(res) => events(res, [addedC, { type: "ERROR", object: gone }], false)],
    requests: ["list", "watch rv=10", "list", "watch rv=12"],
  },
];

/** A ListWatch of pods through the loopback's client, recording its changes and errors. */
function watching(lb: Loopback): { lw: ListWatch<O>; changes: string[]; errors: unknown[] } {
  const client = lb.client;
  const lw = new ListWatch<O>(
    "/api/v1/pods",
    (path, query, onEvent, done) => client.watch(path, query, onEvent, done),
    () => client.get<ListResult<O>>("/api/v1/pods"),
  );
  const changes: string[] = [];
  const errors: unknown[] = [];
  for (const verb of ["add", "update", "delete"] as const)
    lw.on(verb, (obj) => changes.push(`${verb} ${obj.metadata.name}`));
  lw.on("error", (e) => errors.push(e));
  return { lw, changes, errors };
}

let server: Loopback | undefined;
afterEach(() => server?.close());

describe("ListWatch after a 410 Gone", () => {
  it.each(cases)("$how: relists from scratch, no event lost or repeated", async ({ watches, requests }) => {
    const seen: string[] = [];
    const lists = [firstList, relist];
    const watchQueue = [...watches];
    server = await startLoopback((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.searchParams.get("watch") !== "true") {
        seen.push("list");
        answer(res, 200, lists.shift() ?? relist);
        return;
      }
      seen.push(`watch rv=${url.searchParams.get("resourceVersion")}`);
      (watchQueue.shift() ?? ((r: ServerResponse) => events(r, [], false)))(res);
    });
    const { lw, changes, errors } = watching(server);

    await lw.start();
    const deadline = Date.now() + 10_000;
    while (seen.length < requests.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    // Long enough for a second loop, were there one, to list or watch again.
    await new Promise((r) => setTimeout(r, 300));
    await lw.stop();

    expect(errors).toEqual([]);
    expect(seen).toEqual(requests);
    expect(changes).toEqual(["add a", "add b", "add c", "delete b", "add d"]);
    expect(lw.list().map((x) => x.metadata.name)).toEqual(["a", "c", "d"]);
  });
});

describe("ListWatch after an ERROR event of another code", () => {
  it("a 500 on an open watch ends it as an error (for the informer to restart with its backoff), the events before it kept", async () => {
    const seen: string[] = [];
    server = await startLoopback((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.searchParams.get("watch") !== "true") {
        seen.push("list");
        answer(res, 200, firstList);
        return;
      }
      seen.push(`watch rv=${url.searchParams.get("resourceVersion")}`);
      const failed = { ...gone, reason: "InternalError", code: 500, message: "etcd went away" };
      events(res, [addedC, { type: "ERROR", object: failed }], false);
    });
    const { lw, changes, errors } = watching(server);
    await lw.start();
    const deadline = Date.now() + 10_000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    await lw.stop();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain("HTTP 500: etcd went away");
    expect(seen).toEqual(["list", "watch rv=10"]);
    expect(changes).toEqual(["add a", "add b", "add c"]);
  });
});
