/**
 * Kubernetes label selectors, once for every room: the string form of
 * `?labelSelector=` and `kubectl -l` (k8s.io/apimachinery/pkg/labels/selector.go)
 * and the object form metav1.LabelSelector (matchLabels + matchExpressions),
 * both turned into one requirement list that `labelsMatch` evaluates.
 *
 *   key            exists          !key            does not exist
 *   key=v, key==v  equals          key!=v          not equal (or absent)
 *   key in (a,b)   one of          key notin (a,b) none of (or absent)
 *   key>n, key<n   integer compare (the key must exist)
 *
 * All requirements must hold (AND); an empty selector selects everything.
 * "A null label selector matches no objects" (types.go) is the caller's
 * business: its meaning differs per field.
 *
 * Errors are values: the parsers return the selector or a message, in the
 * words apimachinery uses ("unable to parse requirement: ...").
 */

export type LabelOp = "exists" | "!" | "=" | "!=" | "in" | "notin" | "gt" | "lt";

export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

export type LabelSelector = readonly LabelRequirement[];

export type Labels = Readonly<Record<string, string>>;

/** metav1.LabelSelector as it appears in objects (null and absent alike). */
export interface LabelSelectorObject {
  matchLabels?: Readonly<Record<string, string>> | null | undefined;
  matchExpressions?:
    | readonly { key: string; operator: string; values?: readonly string[] | null | undefined }[]
    | null
    | undefined;
}

/** Internal: unwinds the recursive-descent parser; never escapes this file. */
class ParseFailure extends Error {}

const NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** validation.IsQualifiedName: `[prefix/]name`, prefix a DNS subdomain (≤253), name ≤63. */
export function qualifiedNameError(key: string): string | undefined {
  const parts = key.split("/");
  let name = key;
  if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    name = parts[1] ?? "";
    if (prefix.length === 0) return "prefix part must be non-empty";
    if (prefix.length > 253 || !DNS1123_SUBDOMAIN_RE.test(prefix))
      return "prefix part must be a lowercase RFC 1123 subdomain";
  } else if (parts.length > 2) {
    return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/'";
  }
  if (name.length === 0) return "name part must be non-empty";
  if (name.length > 63) return "name part must be no more than 63 characters";
  if (!NAME_RE.test(name))
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  return undefined;
}

/** validation.IsValidLabelValue: empty or a ≤63-char name. */
export function labelValueError(v: string): string | undefined {
  if (v.length === 0) return undefined;
  if (v.length > 63) return "must be no more than 63 characters";
  if (!NAME_RE.test(v))
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  return undefined;
}

type Token =
  | { t: "id"; v: string }
  | { t: "op"; v: "!" | "!=" | "=" | "==" | ">" | "<" }
  | { t: "(" }
  | { t: ")" }
  | { t: "," };

const SPECIAL = new Set(["!", "=", ">", "<", "(", ")", ","]);

function lex(input: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] ?? "";
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    if (c === "(" || c === ")" || c === ",") {
      out.push({ t: c });
      i++;
      continue;
    }
    if (c === "!" || c === "=" || c === ">" || c === "<") {
      const two = input.slice(i, i + 2);
      if (two === "!=" || two === "==") {
        out.push({ t: "op", v: two });
        i += 2;
      } else {
        out.push({ t: "op", v: c });
        i++;
      }
      continue;
    }
    let j = i;
    while (j < input.length) {
      const d = input[j] ?? "";
      if (SPECIAL.has(d) || d === " " || d === "\t" || d === "\n" || d === "\r") break;
      j++;
    }
    out.push({ t: "id", v: input.slice(i, j) });
    i = j;
  }
  return out;
}

/** Parses a selector string; the empty string selects everything. */
function parseOrThrow(input: string): LabelSelector {
  const toks = lex(input);
  const reqs: LabelRequirement[] = [];
  let p = 0;
  const peek = (): Token | undefined => toks[p];
  const fail = (msg: string): never => {
    throw new ParseFailure(`unable to parse requirement: ${msg}`);
  };
  const checkKey = (k: string): void => {
    const e = qualifiedNameError(k);
    if (e !== undefined) fail(`invalid label key "${k}": ${e}`);
  };
  const checkValue = (v: string): void => {
    const e = labelValueError(v);
    if (e !== undefined) fail(`invalid label value: "${v}": ${e}`);
  };
  while (p < toks.length) {
    const first = toks[p++];
    if (first === undefined) break;
    if (first.t === "op" && first.v === "!") {
      const k = toks[p++];
      if (k?.t !== "id") fail("found end of input or a non-identifier after '!', expected: identifier");
      const key = (k as { v: string }).v;
      checkKey(key);
      reqs.push({ key, op: "!", values: [] });
    } else if (first.t === "id") {
      const key = first.v;
      checkKey(key);
      const nxt = peek();
      if (nxt === undefined || nxt.t === ",") {
        reqs.push({ key, op: "exists", values: [] });
      } else if (nxt.t === "op" && nxt.v !== "!") {
        p++;
        const val = peek();
        let v = "";
        if (val?.t === "id") {
          v = val.v;
          p++;
        } else if (val !== undefined && val.t !== ",") {
          fail(`found '${tokText(val)}', expected: identifier after '${nxt.v}'`);
        }
        if (nxt.v === ">" || nxt.v === "<") {
          if (!/^-?\d+$/.test(v)) fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
          reqs.push({ key, op: nxt.v === ">" ? "gt" : "lt", values: [v] });
        } else {
          checkValue(v);
          reqs.push({ key, op: nxt.v === "!=" ? "!=" : "=", values: [v] });
        }
      } else if (nxt.t === "id" && (nxt.v === "in" || nxt.v === "notin")) {
        p++;
        if (peek()?.t !== "(") fail(`found '${tokText(peek())}', expected: '('`);
        p++;
        const values: string[] = [];
        for (;;) {
          const tk = peek();
          if (tk === undefined) fail("found end of input, expected: ')'");
          if (tk?.t === ")") {
            p++;
            break;
          }
          if (tk?.t === "id") {
            checkValue(tk.v);
            values.push(tk.v);
            p++;
            const sep = peek();
            if (sep?.t === ",") p++;
            else if (sep?.t !== ")") fail(`found '${tokText(sep)}', expected: ',' or ')'`);
          } else if (tk?.t === ",") {
            // empty value between commas, e.g. "in (a,,b)": "" is a valid label value
            values.push("");
            p++;
          } else {
            fail(`found '${tokText(tk)}', expected: identifier`);
          }
        }
        if (values.length === 0) fail(`for 'in', 'notin' operators, values set can't be empty`);
        reqs.push({ key, op: nxt.v === "in" ? "in" : "notin", values });
      } else {
        fail(`found '${tokText(nxt)}', expected: in, notin, =, ==, !=, gt, lt`);
      }
    } else {
      fail(`found '${tokText(first)}', expected: !, identifier, or 'end of string'`);
    }
    const sep = peek();
    if (sep === undefined) break;
    if (sep.t !== ",") fail(`found '${tokText(sep)}', expected: ',' or 'end of string'`);
    p++;
    if (peek() === undefined) fail("found end of input after ',', expected: identifier");
  }
  return reqs;
}

function tokText(t: Token | undefined): string {
  if (t === undefined) return "end of input";
  if (t.t === "id" || t.t === "op") return t.v;
  return t.t;
}

/** Parses a selector string (the empty string selects everything), or says what is wrong. */
export function parseLabelSelector(input: string): LabelSelector | string {
  try {
    return parseOrThrow(input);
  } catch (e) {
    if (e instanceof ParseFailure) return e.message;
    throw e;
  }
}

const OPERATORS: Readonly<Record<string, LabelOp>> = {
  In: "in",
  NotIn: "notin",
  Exists: "exists",
  DoesNotExist: "!",
};

/**
 * The object form as a requirement list. "If the operator is In or NotIn, the
 * values array must be non-empty. If the operator is Exists or DoesNotExist,
 * the values array must be empty." (types.go, LabelSelectorRequirement)
 */
export function labelSelectorFromObject(sel: LabelSelectorObject): LabelSelector | string {
  const reqs: LabelRequirement[] = [];
  for (const [key, v] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key, op: "=", values: [v] });
  for (const e of sel.matchExpressions ?? []) {
    const op = Object.prototype.hasOwnProperty.call(OPERATORS, e.operator)
      ? OPERATORS[e.operator]
      : undefined;
    if (op === undefined)
      return `invalid selector operator "${e.operator}": expected one of ${Object.keys(OPERATORS).join(", ")}`;
    const values = [...(e.values ?? [])];
    if ((op === "in" || op === "notin") && values.length === 0) return `operator ${e.operator} needs values`;
    if ((op === "exists" || op === "!") && values.length > 0) return `operator ${e.operator} takes no values`;
    reqs.push({ key: e.key, op, values });
  }
  return reqs;
}

/** Whether the labels satisfy every requirement. */
export function labelsMatch(sel: LabelSelector, labels: Labels | undefined): boolean {
  for (const r of sel) {
    const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = has ? (labels as Labels)[r.key] : undefined;
    switch (r.op) {
      case "exists":
        if (!has) return false;
        break;
      case "!":
        if (has) return false;
        break;
      case "=":
        if (v !== r.values[0]) return false;
        break;
      case "!=":
        if (has && v === r.values[0]) return false;
        break;
      case "in":
        if (!has || !r.values.includes(v as string)) return false;
        break;
      case "notin":
        // apimachinery: NotIn matches when the key is absent too.
        if (has && r.values.includes(v as string)) return false;
        break;
      case "gt":
      case "lt": {
        if (!has || !/^-?\d+$/.test(v as string)) return false;
        const a = Number(v);
        const b = Number(r.values[0]);
        if (r.op === "gt" ? !(a > b) : !(a < b)) return false;
        break;
      }
    }
  }
  return true;
}

/**
 * The object form matched directly, without building a requirement list (the
 * policy compiler matches every pod against every selector). "The result of
 * matchLabels and matchExpressions are ANDed. An empty label selector matches
 * all objects." An invalid selector (unknown operator, In without values,
 * Exists with values) matches nothing.
 */
export function selectorObjectMatches(sel: LabelSelectorObject, labels: Labels | undefined): boolean {
  const has = (k: string): boolean => labels !== undefined && Object.prototype.hasOwnProperty.call(labels, k);
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (!has(k) || (labels as Labels)[k] !== v) return false;
  }
  for (const e of sel.matchExpressions ?? []) {
    const present = has(e.key);
    const val = present ? (labels as Labels)[e.key] : undefined;
    const values = e.values ?? [];
    switch (e.operator) {
      case "In":
        if (values.length === 0 || !present || !values.includes(val as string)) return false;
        break;
      case "NotIn":
        // apimachinery: NotIn matches when the key is absent too.
        if (values.length === 0 || (present && values.includes(val as string))) return false;
        break;
      case "Exists":
        if (values.length > 0 || !present) return false;
        break;
      case "DoesNotExist":
        if (values.length > 0 || present) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** The string form of a requirement list (parses back to the same list). */
export function formatLabelSelector(sel: LabelSelector): string {
  return sel
    .map((r) => {
      switch (r.op) {
        case "exists":
          return r.key;
        case "!":
          return `!${r.key}`;
        case "=":
        case "!=":
          return `${r.key}${r.op}${r.values[0] ?? ""}`;
        case "gt":
          return `${r.key}>${r.values[0] ?? ""}`;
        case "lt":
          return `${r.key}<${r.values[0] ?? ""}`;
        case "in":
        case "notin":
          return `${r.key} ${r.op} (${r.values.join(",")})`;
      }
    })
    .join(",");
}
