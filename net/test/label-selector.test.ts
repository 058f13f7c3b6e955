import { describe, it, expect } from "@jest/globals";
import {
  formatLabelSelector,
  labelSelectorFromObject,
  labelsMatch,
  parseLabelSelector,
  selectorObjectMatches,
  type LabelSelector,
} from "../label-selector.js";
import { parsed } from "./parsed.js";

const sel = (text: string): LabelSelector => parsed(parseLabelSelector(text));

const labels = { app: "web", tier: "front", n: "5" };

describe("string form: each operator (apimachinery selector.go)", () => {
  const cases: [string, string, boolean][] = [
    ["the empty selector selects everything", "", true],
    ["`key` requires the key", "app", true],
    ["`key` fails when absent", "zone", false],
    ["`!key` requires the key absent", "!zone", true],
    ["`!key` fails when present", "!app", false],
    ["`=` equality", "app=web", true],
    ["`==` is the same as `=`", "app==web", true],
    ["`=` fails on another value", "app=db", false],
    ["`!=` matches another value", "app!=db", true],
    ["`!=` matches an absent key", "zone!=a", true],
    ["`!=` fails on the value", "app!=web", false],
    ["`in` matches one of the set", "tier in (back,front)", true],
    ["`in` fails when absent", "zone in (a)", false],
    ["`notin` fails on a member", "tier notin (front)", false],
    ["`notin` matches an absent key", "zone notin (a)", true],
    ["`>` integer compare", "n>4", true],
    ["`<` integer compare", "n<5", false],
    ["requirements are ANDed", "app=web,tier=back", false],
    ["spaces are allowed around tokens", " app = web , tier in ( front ) ", true],
  ];
  it.each(cases)("%s", (_rule, text, want) => {
    expect(labelsMatch(sel(text), labels)).toBe(want);
  });
});

describe("string form: errors are values, in apimachinery's words", () => {
  const cases: [string, string, RegExp][] = [
    ["an invalid key", "-app=web", /invalid label key "-app"/],
    ["an invalid value", "app=-web", /invalid label value: "-web"/],
    ["in without parentheses", "app in web", /expected: '\('/],
    ["an empty set", "app in ()", /values set can't be empty/],
    ["a trailing comma", "app=web,", /after ','/],
    ["a non-integer for >", "n>x", /must be an integer/],
    ["an operator alone", "=web", /expected: !, identifier/],
  ];
  it.each(cases)("%s", (_rule, text, why) => {
    const r = parseLabelSelector(text);
    expect(typeof r).toBe("string");
    expect(r).toMatch(/^unable to parse requirement: /);
    expect(r).toMatch(why);
  });
});

describe("object form (metav1.LabelSelector)", () => {
  const cases: [string, Parameters<typeof selectorObjectMatches>[0], boolean][] = [
    ["an empty selector selects everything", {}, true],
    ["null fields are absent fields", { matchLabels: null, matchExpressions: null }, true],
    ["matchLabels all equal", { matchLabels: { app: "web", tier: "front" } }, true],
    ["matchLabels one differs", { matchLabels: { app: "db" } }, false],
    ["In", { matchExpressions: [{ key: "tier", operator: "In", values: ["front"] }] }, true],
    [
      "NotIn matches an absent key",
      { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] },
      true,
    ],
    ["Exists", { matchExpressions: [{ key: "app", operator: "Exists" }] }, true],
    ["DoesNotExist", { matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }, false],
    [
      "matchLabels and matchExpressions are ANDed",
      { matchLabels: { app: "web" }, matchExpressions: [{ key: "x", operator: "Exists" }] },
      false,
    ],
    [
      "an unknown operator matches nothing",
      { matchExpressions: [{ key: "app", operator: "Gt", values: ["1"] }] },
      false,
    ],
    [
      "In without values matches nothing",
      { matchExpressions: [{ key: "app", operator: "In", values: [] }] },
      false,
    ],
    [
      "Exists with values matches nothing",
      { matchExpressions: [{ key: "app", operator: "Exists", values: ["web"] }] },
      false,
    ],
  ];
  it.each(cases)("%s", (_rule, obj, want) => {
    expect(selectorObjectMatches(obj, labels)).toBe(want);
  });

  const errors: [string, Parameters<typeof labelSelectorFromObject>[0], RegExp][] = [
    [
      "an unknown operator",
      { matchExpressions: [{ key: "a", operator: "Gt" }] },
      /invalid selector operator "Gt"/,
    ],
    ["In without values", { matchExpressions: [{ key: "a", operator: "In", values: [] }] }, /needs values/],
    [
      "Exists with values",
      { matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] },
      /takes no values/,
    ],
  ];
  it.each(errors)("rejects %s", (_rule, obj, why) => {
    expect(labelSelectorFromObject(obj)).toMatch(why);
  });

  it("matching the object form directly agrees with matching its requirement list", () => {
    const objs: Parameters<typeof selectorObjectMatches>[0][] = [
      { matchLabels: { app: "web" } },
      { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["back"] }] },
      { matchExpressions: [{ key: "zone", operator: "DoesNotExist" }] },
      { matchLabels: { app: "web" }, matchExpressions: [{ key: "n", operator: "In", values: ["4", "5"] }] },
    ];
    for (const o of objs) {
      const reqs = parsed(labelSelectorFromObject(o));
      expect(selectorObjectMatches(o, labels)).toBe(labelsMatch(reqs, labels));
    }
  });

  it("the object and string forms agree", () => {
    const obj = labelSelectorFromObject({
      matchLabels: { app: "web" },
      matchExpressions: [{ key: "tier", operator: "NotIn", values: ["back"] }],
    });
    expect(obj).toEqual(sel("app=web,tier notin (back)"));
  });
});

it("formatLabelSelector parses back to the same selector", () => {
  const s = sel("app=web,!zone,tier in (a,b),n>3,x!=y,k");
  expect(sel(formatLabelSelector(s))).toEqual(s);
});

describe("string form: the grammar, case by case (labels/selector.go)", () => {
  it.each([
    ["", []],
    ["a=b", [{ key: "a", op: "=", values: ["b"] }]],
    ["a==b", [{ key: "a", op: "=", values: ["b"] }]],
    ["a!=b", [{ key: "a", op: "!=", values: ["b"] }]],
    ["a", [{ key: "a", op: "exists", values: [] }]],
    ["!a", [{ key: "a", op: "!", values: [] }]],
    ["a in (x, y)", [{ key: "a", op: "in", values: ["x", "y"] }]],
    ["a notin (x)", [{ key: "a", op: "notin", values: ["x"] }]],
    ["a=", [{ key: "a", op: "=", values: [""] }]],
    ["a>3", [{ key: "a", op: "gt", values: ["3"] }]],
    [
      "example.com/app=web , tier",
      [
        { key: "example.com/app", op: "=", values: ["web"] },
        { key: "tier", op: "exists", values: [] },
      ],
    ],
  ])("parses %j", (input, want) => {
    expect(parseLabelSelector(input)).toEqual(want);
  });

  it.each([
    ["a in (x"],
    ["a in x"],
    ["a in ()"],
    ["a=b,"],
    ["=b"],
    ["a b"],
    ["-a=b"],
    ["a=b c"],
    ["a/b/c=d"],
    ["a=-x-"],
    ["a>x"],
    [`k=${"v".repeat(64)}`],
  ])("rejects %j", (input) => {
    expect(parseLabelSelector(input)).toEqual(expect.stringMatching(/^unable to parse requirement: /));
  });

  const labels = { app: "web", tier: "fe", n: "5" };
  it.each([
    ["app=web", true],
    ["app=db", false],
    ["app!=db", true],
    ["missing!=x", true],
    ["app in (db,web)", true],
    ["app notin (web)", false],
    ["missing notin (web)", true],
    ["missing in (web)", false],
    ["tier", true],
    ["!tier", false],
    ["n>4", true],
    ["n<5", false],
    ["missing<9", false],
    ["app=web,tier=be", false],
  ])("%s on app=web,tier=fe,n=5 → %s", (text, want) => {
    expect(labelsMatch(sel(text), labels)).toBe(want);
  });
});
