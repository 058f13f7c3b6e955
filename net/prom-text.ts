/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests
 * and tools that read a real /metrics (prom-client renders but does not parse).
 * It throws, naming the line, on anything a Prometheus server would refuse or
 * that the format forbids: a sample before its family's TYPE, a family split
 * in two, a duplicate series, bad names or escapes, histogram buckets that
 * are not cumulative or whose +Inf bucket differs from _count.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  /** The sample's own name (e.g. `x_bucket` for histogram `x`). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<string>(["counter", "gauge", "histogram", "summary", "untyped"]);

export class ExpositionError extends Error {
  constructor(line: number, text: string, why: string) {
    super(`line ${line}: ${why}: ${JSON.stringify(text)}`);
    this.name = "ExpositionError";
  }
}

/** As Go's strconv.ParseFloat (Prometheus's parser): NaN and Inf in any case. */
function parseValue(s: string): number | undefined {
  const l = s.toLowerCase();
  if (l === "+inf" || l === "inf" || l === "+infinity" || l === "infinity") return Infinity;
  if (l === "-inf" || l === "-infinity") return -Infinity;
  if (l === "nan") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** The family a sample name belongs to, given the families declared so far. */
function familyOf(name: string, declared: ReadonlyMap<string, Family>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const f = declared.get(base);
    if (f && (f.type === "histogram" || (f.type === "summary" && suffix !== "_bucket"))) return base;
  }
  return name;
}

/** Labels of `{a="x",b="y"}` starting at text[i] === "{"; returns the labels and the index after "}". */
function parseLabels(
  text: string,
  i: number,
  fail: (why: string) => never,
): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++;
  for (;;) {
    if (text[i] === "}") return [labels, i + 1];
    const eq = text.indexOf("=", i);
    if (eq < 0) fail("label without =");
    const lname = text.slice(i, eq).trim();
    if (!LABEL_NAME.test(lname)) fail(`bad label name ${JSON.stringify(lname)}`);
    if (Object.hasOwn(labels, lname)) fail(`label ${lname} twice`);
    i = eq + 1;
    if (text[i] !== '"') fail("label value must be quoted");
    i++;
    let v = "";
    for (;;) {
      const c = text[i];
      if (c === undefined) fail("unterminated label value");
      if (c === '"') break;
      if (c === "\\") {
        const n = text[i + 1];
        if (n === "\\") v += "\\";
        else if (n === '"') v += '"';
        else if (n === "n") v += "\n";
        else fail(`bad escape \\${n ?? ""}`);
        i += 2;
        continue;
      }
      if (c === "\n") fail("newline inside a label value");
      v += c;
      i++;
    }
    labels[lname] = v;
    i++;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") fail("expected , or } after a label");
  }
}

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const finished = new Set<string>();
  const series = new Set<string>();
  const typed = new Set<string>();
  let current: string | undefined;
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  else if (text !== "") throw new ExpositionError(lines.length, lines.at(-1) ?? "", "no final newline");
  const enter = (name: string, ln: number, line: string): Family => {
    if (current !== name) {
      if (current !== undefined) finished.add(current);
      if (finished.has(name)) throw new ExpositionError(ln, line, `family ${name} split in two`);
      current = name;
    }
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: "untyped", help: undefined, samples: [] }));
    return f;
  };
  lines.forEach((line, idx) => {
    const ln = idx + 1;
    const fail = (why: string): never => {
      throw new ExpositionError(ln, line, why);
    };
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // an ordinary comment
      const [, kw, name = "", rest = ""] = m;
      if (!METRIC_NAME.test(name)) fail(`bad metric name ${name}`);
      const f = enter(name, ln, line);
      if (kw === "HELP") {
        if (f.help !== undefined) fail(`second HELP for ${name}`);
        f.help = rest;
      } else {
        if (!TYPES.has(rest.trim())) fail(`unknown type ${rest}`);
        if (f.samples.length > 0) fail(`TYPE for ${name} after its samples`);
        if (typed.has(name)) fail(`second TYPE for ${name}`);
        typed.add(name);
        f.type = rest.trim() as MetricType;
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!m) return fail("bad metric name");
    const name = m[1] ?? "";
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === "{") [labels, i] = parseLabels(line, i, fail);
    const rest = line.slice(i);
    const vm = /^ +(\S+)(?: +(-?\d+))?$/.exec(rest);
    if (!vm) return fail("expected one value (and an optional timestamp) after the name and labels");
    const value = parseValue(vm[1] ?? "");
    if (value === undefined) return fail(`bad value ${vm[1]}`);
    const fam = familyOf(name, families);
    const f = enter(fam, ln, line);
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (series.has(key)) fail("duplicate series");
    series.add(key);
    if (f.type === "counter" && !(value >= 0)) fail("a counter must be >= 0");
    if (f.type === "histogram" && name.endsWith("_bucket") && labels["le"] === undefined)
      fail("bucket without le");
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

/** Buckets ascending by le, cumulative, ending at +Inf == _count, per label set. */
function checkHistogram(f: Family): void {
  const groups = new Map<string, { les: number[]; counts: number[]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = JSON.stringify(Object.entries(rest).sort());
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { les: [], counts: [] }));
    if (s.name === `${f.name}_bucket`) {
      const b = parseValue(le ?? "");
      if (b === undefined) throw new Error(`${f.name}: bad le ${le}`);
      g.les.push(b);
      g.counts.push(s.value);
    } else if (s.name === `${f.name}_count`) g.count = s.value;
    else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else throw new Error(`${f.name}: unexpected sample ${s.name} in a histogram`);
  }
  for (const [k, g] of groups) {
    const where = `${f.name}${k}`;
    if (g.les.at(-1) !== Infinity) throw new Error(`${where}: no +Inf bucket`);
    for (let i = 1; i < g.les.length; i++) {
      if (!((g.les[i] ?? 0) > (g.les[i - 1] ?? 0))) throw new Error(`${where}: le not ascending`);
      if ((g.counts[i] ?? 0) < (g.counts[i - 1] ?? 0)) throw new Error(`${where}: buckets not cumulative`);
    }
    if (g.count === undefined || g.sum === undefined) throw new Error(`${where}: _count or _sum missing`);
    if (g.counts.at(-1) !== g.count)
      throw new Error(`${where}: +Inf bucket ${g.counts.at(-1)} != _count ${g.count}`);
  }
}

/** Samples of `name` (a sample name) whose labels include `match`. */
export function samples(
  families: ReadonlyMap<string, Family>,
  name: string,
  match: Record<string, string> = {},
): Sample[] {
  const out: Sample[] = [];
  for (const f of families.values())
    for (const s of f.samples)
      if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) out.push(s);
  return out;
}

/** The one sample of `name` with exactly these labels (besides none else); throws if absent. */
export function value(
  families: ReadonlyMap<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const want = JSON.stringify(Object.entries(labels).sort());
  const s = samples(families, name).find((x) => JSON.stringify(Object.entries(x.labels).sort()) === want);
  if (!s) throw new Error(`no sample ${name}${want}`);
  return s.value;
}
