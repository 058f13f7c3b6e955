/**
 * Bad and hostile requests get a 4xx Status with a reason, never a 500, a
 * crash or a hang: malformed bodies, wrong shapes, absurd nesting, wrong
 * methods and media types.
 */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { raw, startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

const CM = "/api/v1/namespaces/default/configmaps";
const deep = "[".repeat(20_000) + "]".repeat(20_000);

describe("hostile input", () => {
  it.each([
    ["POST", CM, "application/json", "", 400],
    ["POST", CM, "application/json", "null", 400],
    ["POST", CM, "application/json", "[1,2]", 400],
    ["POST", CM, "application/json", '"str"', 400],
    ["POST", CM, "application/json", '{"metadata":"str"}', 400],
    ["POST", CM, "application/json", '{"kind":"Pod","metadata":{"name":"x"}}', 400],
    ["POST", CM, "application/json", '{"apiVersion":"v2","metadata":{"name":"x"}}', 400],
    ["POST", CM, "application/json", '{"metadata":{"name":"x","namespace":"other"}}', 400],
    ["POST", CM, "application/json", '{"metadata":{"name":"x","labels":["a"]}}', 422],
    ["POST", CM, "application/json", '{"metadata":{"name":"x","labels":{"a":1}}}', 422],
    ["POST", CM, "application/json", '{"metadata":{}}', 422],
    ["POST", CM, "application/json", `{"metadata":{"name":"deep"},"data":{"x":${deep}}}`, 400],
    ["POST", CM, "application/xml", "<x/>", 415],
    ["POST", CM, "application/vnd.kubernetes.protobuf", "garbage", 400],
    ["POST", CM, "application/yaml", "a: [\n", 400],
    ["POST", CM, "application/yaml", "---\na: 1\n---\nb: 2\n", 400],
    ["POST", CM, "application/yaml", "a: &x [*x]\n", 400],
    ["PUT", `${CM}/nope`, "application/json", '{"metadata":{"name":"nope"}}', 404],
    ["PUT", `${CM}/a`, "application/json", '{"metadata":{"name":"b"}}', 400],
    ["PATCH", `${CM}/nope`, "application/merge-patch+json", "{}", 404],
    ["PATCH", "/api/v1/namespaces/default", "application/json-patch+json", '{"op":"add"}', 400],
    ["PATCH", "/api/v1/namespaces/default", "application/apply-patch+yaml", "a: 1", 415],
    ["PATCH", "/api/v1/namespaces/default", "text/plain", "x", 415],
    ["DELETE", `${CM}/nope`, "application/json", "", 404],
    ["POST", "/api/v1/pods", "application/json", '{"metadata":{"name":"x"}}', 405],
    ["POST", `${CM}/x/status`, "application/json", "{}", 404],
    ["GET", `${CM}?limit=-1`, "application/json", "", 400],
    ["GET", `${CM}?watch=1&resourceVersion=abc`, "application/json", "", 400],
    ["GET", `${CM}?resourceVersion=abc`, "application/json", "", 400],
    ["GET", `${CM}?resourceVersion=-1&limit=1`, "application/json", "", 400],
    ["GET", `${CM}?watch=1&timeoutSeconds=-1`, "application/json", "", 400],
    ["POST", CM, "application/json", '{"metadata":{"name":"x"},"data":{"a":5}}', 422],
    ["POST", CM, "application/json", '{"metadata":{"name":"x"},"data":{"a":{"b":"c"}}}', 422],
    ["POST", CM, "application/json", '{"metadata":{"name":"x"},"data":"str"}', 422],
    ["POST", CM, "application/json", '{"metadata":{"name":"x"},"data":{"a/b":"c"}}', 422],
    ["POST", CM, "application/json", '{"metadata":{"name":"x"},"binaryData":{"a":[1]}}', 422],
    ["GET", `${CM}?labelSelector=${encodeURIComponent("a in (")}`, "application/json", "", 400],
    ["GET", `${CM}?fieldSelector=${encodeURIComponent("spec.x=1")}`, "application/json", "", 400],
    ["GET", "/api/v1/namespaces/default/configmaps/a/b/c/d", "application/json", "", 404],
    ["GET", "/apis/nope", "application/json", "", 404],
    ["GET", "/nothing/here", "application/json", "", 404],
  ])("%s %s (%s) → %d", async (method, path, contentType, body, code) => {
    const r = await raw(h.url, path, {
      method,
      headers: { "Content-Type": contentType },
      ...(body === "" ? {} : { body }),
    });
    expect(r.status).toBe(code);
    expect(r.body).toMatchObject({ kind: "Status", status: "Failure", code });
    expect(typeof (r.body as { reason: unknown }).reason).toBe("string");
  });

  it("still serves after all of that", async () => {
    expect((await raw(h.url, "/readyz")).status).toBe(200);
  });
});
