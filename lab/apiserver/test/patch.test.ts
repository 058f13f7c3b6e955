import { describe, it, expect } from "@jest/globals";
import { PatchError, jsonPatch, mergePatch, strategicMergePatch } from "../patch.js";

describe("JSON merge patch (RFC 7386 appendix A)", () => {
  it.each([
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [
      ["a", "b"],
      ["c", "d"],
      ["c", "d"],
    ],
    [{ a: "b" }, ["c"], ["c"]],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])("%j + %j = %j", (target, patch, want) => {
    expect(mergePatch(target, patch)).toEqual(want);
  });
});

describe("JSON patch (RFC 6902 appendix A)", () => {
  it.each([
    [
      "add object member",
      { foo: "bar" },
      [{ op: "add", path: "/baz", value: "qux" }],
      { foo: "bar", baz: "qux" },
    ],
    [
      "add array element",
      { foo: ["bar", "baz"] },
      [{ op: "add", path: "/foo/1", value: "qux" }],
      { foo: ["bar", "qux", "baz"] },
    ],
    ["append with -", { foo: [1] }, [{ op: "add", path: "/foo/-", value: 2 }], { foo: [1, 2] }],
    ["remove", { baz: "qux", foo: "bar" }, [{ op: "remove", path: "/baz" }], { foo: "bar" }],
    [
      "replace",
      { baz: "qux", foo: "bar" },
      [{ op: "replace", path: "/baz", value: "boo" }],
      { baz: "boo", foo: "bar" },
    ],
    [
      "move",
      { foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } },
      [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }],
      { foo: { bar: "baz" }, qux: { corge: "grault", thud: "fred" } },
    ],
    ["copy", { a: { b: 1 } }, [{ op: "copy", from: "/a", path: "/c" }], { a: { b: 1 }, c: { b: 1 } }],
    [
      "escaped pointer",
      { "a/b": 1, "m~n": 2 },
      [
        { op: "replace", path: "/a~1b", value: 3 },
        { op: "remove", path: "/m~0n" },
      ],
      { "a/b": 3 },
    ],
    [
      "test then add",
      { a: 1 },
      [
        { op: "test", path: "/a", value: 1 },
        { op: "add", path: "/b", value: 2 },
      ],
      { a: 1, b: 2 },
    ],
  ])("%s", (_name, doc, patch, want) => {
    expect(jsonPatch(doc, patch)).toEqual(want);
  });

  it.each([
    ["failed test is 422 and changes nothing", { a: 1 }, [{ op: "test", path: "/a", value: 2 }], 422],
    ["missing path is 422", { a: 1 }, [{ op: "remove", path: "/b" }], 422],
    ["out of bounds is 422", { a: [1] }, [{ op: "add", path: "/a/5", value: 1 }], 422],
    ["unknown op is 400", { a: 1 }, [{ op: "frob", path: "/a" }], 400],
    ["not an array is 400", { a: 1 }, { op: "add" }, 400],
  ])("%s", (_name, doc, patch, code) => {
    try {
      jsonPatch(doc, patch);
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(PatchError);
      expect((e as PatchError).code).toBe(code);
    }
  });
});

describe("strategic merge patch (apimachinery strategicpatch)", () => {
  const pod = {
    metadata: { name: "p", labels: { a: "1" }, finalizers: ["x"] },
    spec: {
      containers: [
        { name: "a", image: "img:1", env: [{ name: "E1", value: "1" }], ports: [{ containerPort: 80 }] },
        { name: "b", image: "img:1" },
      ],
      tolerations: [{ key: "t1" }],
    },
  };

  it("merges containers by name and their env by name", () => {
    const out = strategicMergePatch(
      pod,
      { spec: { containers: [{ name: "a", env: [{ name: "E2", value: "2" }] }] } },
      "Pod",
    ) as typeof pod;
    expect(out.spec.containers.map((c) => c.name)).toEqual(["a", "b"]);
    expect(out.spec.containers[0]?.env).toEqual([
      { name: "E1", value: "1" },
      { name: "E2", value: "2" },
    ]);
    expect(out.spec.containers[0]?.image).toBe("img:1");
  });

  it("replaces lists without a merge key (tolerations)", () => {
    const out = strategicMergePatch(pod, { spec: { tolerations: [{ key: "t2" }] } }, "Pod") as typeof pod;
    expect(out.spec.tolerations).toEqual([{ key: "t2" }]);
  });

  it("deletes a list element with $patch: delete", () => {
    const out = strategicMergePatch(
      pod,
      { spec: { containers: [{ name: "b", $patch: "delete" }] } },
      "Pod",
    ) as typeof pod;
    expect(out.spec.containers.map((c) => c.name)).toEqual(["a"]);
  });

  it("replaces a whole list with a $patch: replace element", () => {
    const out = strategicMergePatch(
      pod,
      { spec: { containers: [{ $patch: "replace" }, { name: "c", image: "x" }] } },
      "Pod",
    ) as typeof pod;
    expect(out.spec.containers).toEqual([{ name: "c", image: "x" }]);
  });

  it("replaces a map with $patch: replace and deletes a key with null", () => {
    const out = strategicMergePatch(
      pod,
      { metadata: { labels: { $patch: "replace", b: "2" } } },
      "Pod",
    ) as typeof pod;
    expect(out.metadata.labels).toEqual({ b: "2" });
    const out2 = strategicMergePatch(pod, { metadata: { labels: { a: null } } }, "Pod") as typeof pod;
    expect(out2.metadata.labels).toEqual({});
  });

  it("unions merge-strategy primitive lists and honours $deleteFromPrimitiveList", () => {
    const out = strategicMergePatch(pod, { metadata: { finalizers: ["y", "x"] } }, "Pod") as typeof pod;
    expect(out.metadata.finalizers).toEqual(["x", "y"]);
    const out2 = strategicMergePatch(
      out,
      { metadata: { "$deleteFromPrimitiveList/finalizers": ["x"] } },
      "Pod",
    ) as typeof pod;
    expect(out2.metadata.finalizers).toEqual(["y"]);
  });

  it("orders merged elements with $setElementOrder (as kubectl apply sends)", () => {
    const out = strategicMergePatch(
      pod,
      {
        spec: {
          "$setElementOrder/containers": [{ name: "b" }, { name: "a" }],
          containers: [{ name: "b", image: "img:2" }],
        },
      },
      "Pod",
    ) as typeof pod;
    expect(out.spec.containers.map((c) => `${c.name}:${c.image}`)).toEqual(["b:img:2", "a:img:1"]);
  });

  it("keeps only the listed keys with $retainKeys", () => {
    const out = strategicMergePatch(
      { spec: { strategy: { type: "A", rollingUpdate: { x: 1 } } } },
      { spec: { strategy: { $retainKeys: ["type"], type: "B" } } },
      "Deployment",
    );
    expect(out).toEqual({ spec: { strategy: { type: "B" } } });
  });

  it("merges node addresses by type and does not touch the input", () => {
    const node = {
      status: {
        addresses: [
          { type: "InternalIP", address: "10.0.0.1" },
          { type: "Hostname", address: "n1" },
        ],
      },
    };
    const before = JSON.stringify(node);
    const out = strategicMergePatch(
      node,
      { status: { addresses: [{ type: "InternalIP", address: "10.0.0.2" }] } },
      "Node",
    );
    expect(out).toEqual({
      status: {
        addresses: [
          { type: "InternalIP", address: "10.0.0.2" },
          { type: "Hostname", address: "n1" },
        ],
      },
    });
    expect(JSON.stringify(node)).toBe(before);
  });
});
