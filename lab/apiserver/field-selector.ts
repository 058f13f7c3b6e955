/**
 * Field selectors (`?fieldSelector=`), after k8s.io/apimachinery/pkg/fields:
 * comma-separated `field=value`, `field==value` or `field!=value` terms, all of
 * which must hold. `\`, `,` and `=` inside values are escaped with a backslash.
 * Which fields a resource supports is its own business (pods: spec.nodeName,
 * status.phase, ...); an unsupported field is a 400 BadRequest upstream
 * ("field label not supported"), which the caller decides via `supported`.
 */
/** A label or field selector the server cannot parse: a 400 BadRequest. */
export class SelectorParseError extends Error {}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

export type FieldSelector = readonly FieldRequirement[];

function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? "";
    if (c === "\\" && i + 1 < s.length) {
      cur += c + (s[i + 1] ?? "");
      i++;
    } else if (c === sep) {
      out.push(cur);
      cur = "";
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

function unescape(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? "";
    if (c === "\\") {
      const n = s[i + 1];
      if (n === "\\" || n === "," || n === "=") {
        out += n;
        i++;
        continue;
      }
      throw new SelectorParseError(`invalid field selector: invalid escape sequence in ${JSON.stringify(s)}`);
    }
    out += c;
  }
  return out;
}

/** Finds the first unescaped operator in a term: `!=`, `==` or `=`. */
function findOp(term: string): { at: number; op: "=" | "!=" | "=="; len: number } | undefined {
  for (let i = 0; i < term.length; i++) {
    const c = term[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "!" && term[i + 1] === "=") return { at: i, op: "!=", len: 2 };
    if (c === "=" && term[i + 1] === "=") return { at: i, op: "==", len: 2 };
    if (c === "=") return { at: i, op: "=", len: 1 };
  }
  return undefined;
}

export function parseFieldSelector(input: string, supported: (field: string) => boolean): FieldSelector {
  if (input.trim() === "") return [];
  const reqs: FieldRequirement[] = [];
  for (const raw of splitUnescaped(input, ",")) {
    const term = raw.trim();
    if (term === "") continue;
    const op = findOp(term);
    if (op === undefined)
      throw new SelectorParseError(`invalid selector: '${input}'; can't understand '${term}'`);
    const field = term.slice(0, op.at).trim();
    const value = unescape(term.slice(op.at + op.len).trim());
    if (field === "") throw new SelectorParseError(`invalid selector: '${input}'; field name is empty`);
    if (!supported(field)) throw new SelectorParseError(`field label not supported: ${field}`);
    reqs.push({ field, op: op.op === "!=" ? "!=" : "=", value });
  }
  return reqs;
}

export function fieldsMatch(sel: FieldSelector, get: (field: string) => string): boolean {
  for (const r of sel) {
    const v = get(r.field);
    if (r.op === "=" ? v !== r.value : v === r.value) return false;
  }
  return true;
}
