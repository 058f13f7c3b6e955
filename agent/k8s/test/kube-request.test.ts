import { describe, expect, it } from "@jest/globals";
import {
  KubeApiError,
  WatchDecodeError,
  WatchDecoder,
  decodeResponse,
  encodeBody,
  pathWithQuery,
  resourcePath,
} from "../kube-request.js";

describe("resourcePath (api-concepts: resource URIs)", () => {
  it.each([
    [{ group: "", version: "v1", plural: "pods" }, "/api/v1/pods"],
    [
      { group: "", version: "v1", plural: "pods", namespace: "ns", name: "p" },
      "/api/v1/namespaces/ns/pods/p",
    ],
    [
      { group: "ipam.trellis.dev", version: "v1", plural: "ipamblocks", name: "b" },
      "/apis/ipam.trellis.dev/v1/ipamblocks/b",
    ],
    [
      {
        group: "trellis.dev",
        version: "v1alpha1",
        plural: "trellisnodestatuses",
        name: "n1",
        subresource: "status",
      },
      "/apis/trellis.dev/v1alpha1/trellisnodestatuses/n1/status",
    ],
    [
      { group: "", version: "v1", plural: "secrets", namespace: "kube system", name: "a/b" },
      "/api/v1/namespaces/kube%20system/secrets/a%2Fb",
    ],
  ])("%j → %s", (ref, path) => expect(resourcePath(ref)).toBe(path));

  it("a subresource without a name is no path to it (the collection)", () => {
    expect(resourcePath({ group: "", version: "v1", plural: "pods", subresource: "status" })).toBe(
      "/api/v1/pods",
    );
  });
});

describe("pathWithQuery", () => {
  it("encodes values and leaves undefined ones out", () => {
    expect(
      pathWithQuery("/api/v1/pods", { fieldSelector: "spec.nodeName=n 1", x: undefined, watch: true }),
    ).toBe("/api/v1/pods?fieldSelector=spec.nodeName%3Dn+1&watch=true");
    expect(pathWithQuery("/api/v1/pods", undefined)).toBe("/api/v1/pods");
  });
});

describe("encodeBody", () => {
  it("JSON with its length; a PATCH's content type as given; no body, no content headers", () => {
    const e = encodeBody({ method: "PUT", path: "/x", body: { a: "é" } });
    expect(e.bytes?.toString()).toBe('{"a":"é"}');
    expect(e.headers).toEqual({
      accept: "application/json",
      "content-type": "application/json",
      "content-length": "10",
    });
    const p = encodeBody({
      method: "PATCH",
      path: "/x",
      body: [],
      contentType: "application/json-patch+json",
    });
    expect(p.headers["content-type"]).toBe("application/json-patch+json");
    expect(encodeBody({ method: "GET", path: "/x" })).toEqual({ headers: { accept: "application/json" } });
  });
});

describe("decodeResponse", () => {
  const req = { method: "PUT" as const, path: "/apis/g/v1/ipamblocks/b" };

  it("2xx: the JSON; an empty body is undefined", () => {
    expect(decodeResponse(req, 200, '{"a":1}')).toEqual({ a: 1 });
    expect(decodeResponse(req, 201, "")).toBeUndefined();
  });

  it("409 (a lost compare-and-swap) carries the code and the server's Status", () => {
    const status = {
      kind: "Status",
      status: "Failure",
      reason: "Conflict",
      code: 409,
      message: "the object has been modified",
    };
    let err: unknown;
    try {
      decodeResponse(req, 409, JSON.stringify(status));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KubeApiError);
    const k = err as KubeApiError;
    expect([k.code, k.statusCode, k.body]).toEqual([409, 409, status]);
    expect(k.message).toBe("PUT /apis/g/v1/ipamblocks/b: HTTP 409: the object has been modified");
  });

  it("an error body that is not JSON is kept as text", () => {
    expect(() => decodeResponse(req, 503, "upstream connect error\n")).toThrow(
      "PUT /apis/g/v1/ipamblocks/b: HTTP 503: upstream connect error",
    );
  });

  it("a 2xx body that is not JSON is an error, not a crash later", () => {
    expect(() => decodeResponse(req, 200, "<html>")).toThrow(/HTTP 200 with a body that is not JSON/);
  });
});

describe("WatchDecoder (one JSON event per line)", () => {
  it("events split across chunks come out whole, in order", () => {
    const d = new WatchDecoder();
    expect(d.push('{"type":"ADDED","object":{"a":1}}\n{"type":"MOD')).toEqual([
      { type: "ADDED", object: { a: 1 } },
    ]);
    expect(d.push('IFIED","object":{"a":2}}\n\n')).toEqual([{ type: "MODIFIED", object: { a: 2 } }]);
    expect(d.end()).toEqual([]);
  });

  it("a last line without its newline is delivered at the end", () => {
    const d = new WatchDecoder();
    expect(d.push('{"type":"BOOKMARK","object":{}}')).toEqual([]);
    expect(d.end()).toEqual([{ type: "BOOKMARK", object: {} }]);
  });

  it.each([
    ["not JSON", "garbage"],
    ["JSON without a type", '{"object":{}}'],
  ])("a line that is not an event (%s) ends the watch, handing over the events before it", (_what, bad) => {
    const d = new WatchDecoder();
    let err: unknown;
    try {
      d.push(`{"type":"ADDED","object":{"n":1}}\n${bad}\n{"type":"DELETED","object":null}\n`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WatchDecodeError);
    expect((err as WatchDecodeError).events).toEqual([{ type: "ADDED", object: { n: 1 } }]);
    expect((err as Error).message).toContain(JSON.stringify(bad));
    // At the end of the stream too.
    const e2 = new WatchDecoder();
    e2.push(bad);
    expect(() => e2.end()).toThrow(WatchDecodeError);
  });

  it("an unterminated line longer than the bound is an error", () => {
    const d = new WatchDecoder(8);
    expect(() => d.push("123456789")).toThrow(/longer than 8 characters/);
  });
});
