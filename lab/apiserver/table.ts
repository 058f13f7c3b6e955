/**
 * Server-side printing (meta.k8s.io/v1 `Table`), which `kubectl get` asks
 * for with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. The
 * columns follow pkg/printers/internalversion/printers.go for the built-in
 * kinds and `additionalPrinterColumns` (default: Age) for custom resources.
 */
import type { KubeObject, StoredObject } from "./object-store.js";
import type { PrinterColumn, ResourceType } from "./resource-types.js";
import { mediaRanges } from "./discovery.js";

export interface TableOptions {
  includeObject: "None" | "Metadata" | "Object";
  now: number;
  printerColumns: PrinterColumn[];
}

export function wantsTable(accept: string | undefined): boolean {
  return mediaRanges(accept).some(
    (m) => m.params.get("as") === "Table" && (m.params.get("g") ?? "meta.k8s.io") === "meta.k8s.io",
  );
}

/** duration.HumanDuration from k8s.io/apimachinery. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8)
    return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

type Obj = Record<string, unknown>;
const o = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const a = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown, dflt = "<none>"): string => (typeof v === "string" && v !== "" ? v : dflt);

type Cell = string | number | boolean | null;
interface Col {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  description?: string;
  cell: (obj: KubeObject, now: number) => Cell;
}

const age = (obj: KubeObject, now: number): string =>
  obj.metadata.creationTimestamp === undefined
    ? "<unknown>"
    : humanDuration(now - Date.parse(obj.metadata.creationTimestamp));
const NAME: Col = {
  name: "Name",
  type: "string",
  format: "name",
  description: "Name must be unique within a namespace.",
  cell: (x) => x.metadata.name ?? "",
};
const AGE: Col = {
  name: "Age",
  type: "string",
  description: "CreationTimestamp is a timestamp representing the server time when this object was created.",
  cell: age,
};

/** A Node's status address of one type (InternalIP, ExternalIP), as kubectl's wide columns show it. */
function nodeAddress(node: Record<string, unknown>, type: string): unknown {
  return o(
    a(o(node["status"]).addresses)
      .map(o)
      .find((ad) => ad.type === type),
  ).address;
}

function selectorText(sel: unknown): string {
  const parts = Object.entries(o(o(sel).matchLabels ?? sel)).map(([k, v]) => `${k}=${String(v)}`);
  for (const e of a(o(sel).matchExpressions)) {
    const x = o(e);
    parts.push(`${String(x.key)} ${String(x.operator).toLowerCase()} (${a(x.values).join(",")})`);
  }
  return parts.length === 0 ? "<none>" : parts.join(",");
}

const BUILTIN_COLUMNS: Record<string, Col[]> = {
  Namespace: [NAME, { name: "Status", type: "string", cell: (x) => str(o(x.status).phase, "") }, AGE],
  Pod: [
    NAME,
    {
      name: "Ready",
      type: "string",
      cell: (x) => {
        const total = a(o(x.spec).containers).length;
        const ready = a(o(x.status).containerStatuses).filter((c) => o(c).ready === true).length;
        return `${ready}/${total}`;
      },
    },
    {
      name: "Status",
      type: "string",
      cell: (x) =>
        x.metadata.deletionTimestamp !== undefined
          ? "Terminating"
          : str(o(x.status).reason, str(o(x.status).phase, "Unknown")),
    },
    {
      name: "Restarts",
      type: "string",
      cell: (x) =>
        String(
          a(o(x.status).containerStatuses).reduce<number>((n, c) => n + (Number(o(c).restartCount) || 0), 0),
        ),
    },
    AGE,
    { name: "IP", type: "string", priority: 1, cell: (x) => str(o(x.status).podIP) },
    { name: "Node", type: "string", priority: 1, cell: (x) => str(o(x.spec).nodeName) },
    { name: "Nominated Node", type: "string", priority: 1, cell: (x) => str(o(x.status).nominatedNodeName) },
    { name: "Readiness Gates", type: "string", priority: 1, cell: () => "<none>" },
  ],
  Node: [
    NAME,
    {
      name: "Status",
      type: "string",
      cell: (x) => {
        const ready = a(o(x.status).conditions)
          .map(o)
          .find((c) => c.type === "Ready");
        let s = ready === undefined ? "Unknown" : ready.status === "True" ? "Ready" : "NotReady";
        if (o(x.spec).unschedulable === true) s += ",SchedulingDisabled";
        return s;
      },
    },
    {
      name: "Roles",
      type: "string",
      cell: (x) => {
        const roles = Object.keys(x.metadata.labels ?? {})
          .filter((k) => k.startsWith("node-role.kubernetes.io/"))
          .map((k) => k.slice("node-role.kubernetes.io/".length));
        return roles.length === 0 ? "<none>" : roles.sort().join(",");
      },
    },
    AGE,
    { name: "Version", type: "string", cell: (x) => str(o(o(x.status).nodeInfo).kubeletVersion, "") },
    {
      name: "Internal-IP",
      type: "string",
      priority: 1,
      cell: (x) => str(nodeAddress(x, "InternalIP")),
    },
    {
      name: "External-IP",
      type: "string",
      priority: 1,
      cell: (x) => str(nodeAddress(x, "ExternalIP")),
    },
    {
      name: "OS-Image",
      type: "string",
      priority: 1,
      cell: (x) => str(o(o(x.status).nodeInfo).osImage, "<unknown>"),
    },
    {
      name: "Kernel-Version",
      type: "string",
      priority: 1,
      cell: (x) => str(o(o(x.status).nodeInfo).kernelVersion, "<unknown>"),
    },
    {
      name: "Container-Runtime",
      type: "string",
      priority: 1,
      cell: (x) => str(o(o(x.status).nodeInfo).containerRuntimeVersion, "<unknown>"),
    },
  ],
  Service: [
    NAME,
    { name: "Type", type: "string", cell: (x) => str(o(x.spec).type, "ClusterIP") },
    { name: "Cluster-IP", type: "string", cell: (x) => str(o(x.spec).clusterIP) },
    {
      name: "External-IP",
      type: "string",
      cell: (x) => (a(o(x.spec).externalIPs).length > 0 ? a(o(x.spec).externalIPs).join(",") : "<none>"),
    },
    {
      name: "Port(s)",
      type: "string",
      cell: (x) => {
        const ports = a(o(x.spec).ports).map((p) => {
          const po = o(p);
          return `${String(po.port)}${po.nodePort !== undefined ? `:${String(po.nodePort)}` : ""}/${str(po.protocol, "TCP")}`;
        });
        return ports.length === 0 ? "<none>" : ports.join(",");
      },
    },
    AGE,
    { name: "Selector", type: "string", priority: 1, cell: (x) => selectorText(o(x.spec).selector) },
  ],
  ConfigMap: [
    NAME,
    {
      name: "Data",
      type: "integer",
      cell: (x) => Object.keys(o(x.data)).length + Object.keys(o(x.binaryData)).length,
    },
    AGE,
  ],
  Secret: [
    NAME,
    { name: "Type", type: "string", cell: (x) => str(x.type, "Opaque") },
    { name: "Data", type: "integer", cell: (x) => Object.keys(o(x.data)).length },
    AGE,
  ],
  ServiceAccount: [NAME, { name: "Secrets", type: "integer", cell: (x) => a(x.secrets).length }, AGE],
  Endpoints: [
    NAME,
    {
      name: "Endpoints",
      type: "string",
      cell: (x) => {
        const eps: string[] = [];
        for (const s of a(x.subsets)) {
          const ports = a(o(s).ports).map((p) => o(p).port);
          for (const ad of a(o(s).addresses)) {
            if (ports.length === 0) eps.push(String(o(ad).ip));
            for (const p of ports) eps.push(`${String(o(ad).ip)}:${String(p)}`);
          }
        }
        return eps.length === 0
          ? "<none>"
          : eps.slice(0, 3).join(",") + (eps.length > 3 ? ` + ${eps.length - 3} more...` : "");
      },
    },
    AGE,
  ],
  NetworkPolicy: [
    NAME,
    { name: "Pod-Selector", type: "string", cell: (x) => selectorText(o(x.spec).podSelector) },
    AGE,
  ],
  Lease: [NAME, { name: "Holder", type: "string", cell: (x) => str(o(x.spec).holderIdentity, "") }, AGE],
  CustomResourceDefinition: [
    NAME,
    { name: "Created At", type: "date", cell: (x) => x.metadata.creationTimestamp ?? "" },
  ],
};

/**
 * A small JSONPath subset used by additionalPrinterColumns:
 * `.a.b`, `.a[0].b`, `.a[*].b`, `.a[?(@.k=="v")].b`.
 */
export function jsonPath(obj: unknown, path: string): unknown[] {
  const p = path.trim().replace(/^\{|\}$/g, "");
  const tokens = p.match(/\.[^.[\]]+|\[[^\]]*\]/g) ?? [];
  let cur: unknown[] = [obj];
  for (const t of tokens) {
    const next: unknown[] = [];
    for (const c of cur) {
      if (t.startsWith(".")) {
        const v = o(c)[t.slice(1)];
        if (v !== undefined) next.push(v);
      } else {
        const inner = t.slice(1, -1).trim();
        const arr = a(c);
        if (inner === "*") next.push(...arr);
        else if (/^-?\d+$/.test(inner)) {
          const i = Number(inner);
          const v = arr[i < 0 ? arr.length + i : i];
          if (v !== undefined) next.push(v);
        } else {
          const m = /^\?\(@\.([\w.-]+)\s*==\s*["']([^"']*)["']\)$/.exec(inner);
          if (m !== null) {
            for (const e of arr) if (String(jsonPath(e, `.${m[1] ?? ""}`)[0]) === m[2]) next.push(e);
          } else {
            const v = o(c)[inner.replace(/^['"]|['"]$/g, "")];
            if (v !== undefined) next.push(v);
          }
        }
      }
    }
    cur = next;
  }
  return cur;
}

function customColumns(pcs: PrinterColumn[]): Col[] {
  if (pcs.length === 0) return [NAME, AGE];
  return [
    NAME,
    ...pcs.map((pc): Col => {
      const col: Col = {
        name: pc.name,
        type: pc.type,
        cell: (x, now) => {
          const vals = jsonPath(x, pc.jsonPath);
          if (vals.length === 0) return null;
          if (pc.type === "date")
            return typeof vals[0] === "string" ? humanDuration(now - Date.parse(vals[0])) : null;
          if (vals.length === 1) {
            const v = vals[0];
            if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
            return JSON.stringify(v);
          }
          return vals.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(",");
        },
      };
      if (pc.priority !== undefined) col.priority = pc.priority;
      if (pc.description !== undefined) col.description = pc.description;
      if (pc.format !== undefined) col.format = pc.format;
      return col;
    }),
  ];
}

export function tableFor(
  type: ResourceType,
  objs: KubeObject[],
  opts: TableOptions,
  rv: number,
  cont: string | undefined,
  full: (s: StoredObject) => unknown,
  stored: StoredObject[],
): unknown {
  const cols =
    type.schemas !== undefined
      ? customColumns(opts.printerColumns)
      : (BUILTIN_COLUMNS[type.kind] ?? [NAME, AGE]);
  const meta: Record<string, unknown> = { resourceVersion: String(rv) };
  if (cont !== undefined) meta.continue = cont;
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: meta,
    columnDefinitions: cols.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? "",
      description: c.description ?? "",
      priority: c.priority ?? 0,
    })),
    rows: objs.map((x, i) => {
      const row: Record<string, unknown> = { cells: cols.map((c) => c.cell(x, opts.now)) };
      if (opts.includeObject === "Object") row.object = full(stored[i] as StoredObject);
      else if (opts.includeObject !== "None")
        row.object = { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: x.metadata };
      return row;
    }),
  };
}
