/**
 * The Kubernetes REST semantics of the lab API server, independent of HTTP:
 * a request (method, path, query, headers, body) goes in, a response or a
 * watch stream comes out. Routing, discovery, create/get/list/update/patch/
 * delete/deletecollection, status subresources, CRD registration, and watch.
 * Upstream references: k8s.io/apiserver/pkg/endpoints/handlers (REST verbs),
 * k8s.io/apiserver/pkg/registry/generic/registry/store.go (storage rules),
 * "API Concepts" (resourceVersion, watch, chunking semantics).
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  methodNotAllowed,
  notFound,
  unsupportedMediaType,
  type FieldError,
} from "./status.js";
import { ObjectStore, type JournalRecord, type KubeObject, type StoredObject } from "./object-store.js";
import { apiVersionOf, builtinTypes, fieldValue, resourceKey, type ResourceType } from "./resource-types.js";
import { labelsMatch, parseLabelSelector, type LabelSelector } from "../../net/label-selector.js";
import { SelectorParseError, fieldsMatch, parseFieldSelector, type FieldSelector } from "./field-selector.js";
import { decodeBody, decodeObject, mediaType } from "./request-body.js";
import { PatchError, jsonPatch, mergePatch, strategicMergePatch } from "./patch.js";
import { applyDefaults, prune, validateCustomResource } from "./structural-schema.js";
import { crdStatus, resourceTypeOf, validateCrd } from "./crd.js";
import { generateName, validateObjectMeta } from "./object-meta.js";
import {
  canonical,
  normaliseSecret,
  prepareForCreate,
  prepareForUpdate,
  validateBuiltin,
} from "./strategies.js";
import {
  AGGREGATED_V2_CONTENT_TYPE,
  aggregatedDiscovery,
  apiGroupDoc,
  apiGroupList,
  apiResourceList,
  apiVersions,
  groupsOf,
  versionInfo,
  wantsAggregated,
} from "./discovery.js";
import { openApiGroupVersion, openApiRoot } from "./openapi.js";
import { BUILTIN_FIELDS, OBJECT_META, dropUnknownFields } from "./builtin-fields.js";
import { decodeContinue, encodeContinue } from "./continue-token.js";
import { startWatch, type WatchSink, type WatchParams } from "./watch-stream.js";
import { tableFor, wantsTable, type TableOptions } from "./table.js";

export interface ApiRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  accept?: string;
  contentType?: string;
  body: Buffer;
}

export interface ApiResponse {
  kind: "response";
  status: number;
  contentType: string;
  body: string;
}

export interface ApiWatch {
  kind: "watch";
  contentType: string;
  /** Starts streaming into `sink`; returns a function that stops the watch. */
  start(sink: WatchSink): () => void;
}

export type ApiResult = ApiResponse | ApiWatch;

export interface KubeApiOptions {
  historySize: number;
  logger: Logger;
  now?: () => number;
  random?: () => number;
  bookmarkIntervalMs?: number;
  serverAddress?: string;
  startRv?: number;
}

const JSON_TYPE = "application/json";

/** Boolean fields that upstream's field-label functions format with strconv.FormatBool (absent = "false"). */
const BOOLEAN_FIELDS = new Set(["spec.hostNetwork", "spec.unschedulable"]);

interface Target {
  type: ResourceType;
  key: string;
  group: string;
  version: string;
  /** Namespace from the URL ("" when none). */
  namespace: string;
  name?: string;
  subresource?: string;
}

function json(status: number, body: unknown, contentType = JSON_TYPE): ApiResponse {
  return { kind: "response", status, contentType, body: JSON.stringify(body) };
}

function raw(status: number, body: string, contentType = JSON_TYPE): ApiResponse {
  return { kind: "response", status, contentType, body };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const NOT_FOUND_GENERIC = (): ApiError =>
  new ApiError(404, "NotFound", "the server could not find the requested resource", {});

export class KubeApi {
  readonly store: ObjectStore;
  private readonly types = new Map<string, ResourceType>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly log: Logger;
  private nextClusterIP = 1;

  constructor(private readonly opts: KubeApiOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.log = opts.logger;
    this.store = new ObjectStore(opts.historySize, opts.startRv ?? 1, this.now);
    for (const t of builtinTypes()) this.registerType(t);
  }

  // ---- type registry ----

  registerType(t: ResourceType): void {
    const key = resourceKey(t.group, t.plural);
    this.types.set(key, t);
    this.store.table(key);
  }

  /** Stops serving a resource: its objects are gone and its watches end. */
  unregisterType(key: string): void {
    this.types.delete(key);
    this.store.dropTable(key);
  }

  allTypes(): ResourceType[] {
    return [...this.types.values()];
  }

  typeFor(group: string, plural: string): ResourceType | undefined {
    return this.types.get(resourceKey(group, plural));
  }

  private nowIso(): string {
    return new Date(Math.floor(this.now() / 1000) * 1000).toISOString().replace(".000Z", "Z");
  }

  // ---- entry point ----

  handle(req: ApiRequest): ApiResult {
    try {
      return this.route(req);
    } catch (e) {
      if (e instanceof ApiError) return json(e.code, e.toStatus());
      if (e instanceof SelectorParseError) return json(400, badRequest(e.message).toStatus());
      if (e instanceof PatchError) {
        const err = e.code === 400 ? badRequest(e.message) : new ApiError(422, "Invalid", e.message);
        return json(err.code, err.toStatus());
      }
      this.log.error({ err: e, method: req.method, path: req.path }, "internal error");
      const err = new ApiError(500, "InternalError", `Internal error occurred: ${(e as Error).message}`);
      return json(500, err.toStatus());
    }
  }

  private route(req: ApiRequest): ApiResult {
    const path = req.path.length > 1 ? req.path.replace(/\/+$/, "") : req.path;
    if (path === "/version") return json(200, versionInfo());
    if (path === "/healthz" || path === "/readyz" || path === "/livez")
      return raw(200, "ok", "text/plain; charset=utf-8");
    if (path.startsWith("/healthz/") || path.startsWith("/readyz/") || path.startsWith("/livez/"))
      return raw(200, "ok", "text/plain; charset=utf-8");
    if (path === "/openapi/v3") {
      const gvs: [string, string][] = [];
      for (const [g, vs] of groupsOf(this.types.values())) for (const v of vs) gvs.push([g, v]);
      return json(200, openApiRoot(gvs, this.allTypes()));
    }
    if (path.startsWith("/openapi/v3/")) {
      const rest = path.slice("/openapi/v3/".length).split("/");
      const [g, v] = rest[0] === "api" ? ["", rest[1] ?? ""] : [rest[1] ?? "", rest[2] ?? ""];
      const doc = openApiGroupVersion(g, v, this.types.values());
      if (doc === undefined) throw NOT_FOUND_GENERIC();
      return json(200, doc);
    }
    const parts = path
      .split("/")
      .filter((p) => p !== "")
      .map(decodeURIComponent);
    if (parts[0] === "api") {
      if (parts.length === 1) {
        if (req.method !== "GET") throw methodNotAllowed(`${req.method} is not supported on /api`);
        if (wantsAggregated(req.accept))
          return json(200, aggregatedDiscovery(this.types.values(), true), AGGREGATED_V2_CONTENT_TYPE);
        return json(200, apiVersions(this.opts.serverAddress ?? "127.0.0.1:0"));
      }
      return this.routeGroupVersion(req, "", parts[1] ?? "", parts.slice(2));
    }
    if (parts[0] === "apis") {
      if (parts.length === 1) {
        if (wantsAggregated(req.accept))
          return json(200, aggregatedDiscovery(this.types.values(), false), AGGREGATED_V2_CONTENT_TYPE);
        return json(200, apiGroupList(this.types.values()));
      }
      if (parts.length === 2) {
        const doc = apiGroupDoc(parts[1] ?? "", this.types.values());
        if (doc === undefined) throw NOT_FOUND_GENERIC();
        return json(200, doc);
      }
      return this.routeGroupVersion(req, parts[1] ?? "", parts[2] ?? "", parts.slice(3));
    }
    throw NOT_FOUND_GENERIC();
  }

  private routeGroupVersion(req: ApiRequest, group: string, version: string, rest: string[]): ApiResult {
    if (rest.length === 0) {
      const doc = apiResourceList(group, version, this.types.values());
      if (doc === undefined) throw NOT_FOUND_GENERIC();
      return json(200, doc);
    }
    const target = this.resolve(group, version, rest);
    return this.dispatch(req, target);
  }

  private resolve(group: string, version: string, rest: string[]): Target {
    let namespace = "";
    let plural: string;
    let name: string | undefined;
    let sub: string | undefined;
    const nsSub =
      group === "" &&
      rest[0] === "namespaces" &&
      rest.length === 3 &&
      (rest[2] === "status" || rest[2] === "finalize");
    if (rest[0] === "namespaces" && rest.length >= 3 && !nsSub) {
      namespace = rest[1] ?? "";
      plural = rest[2] ?? "";
      name = rest[3];
      sub = rest[4];
      if (rest.length > 5) throw NOT_FOUND_GENERIC();
    } else {
      plural = rest[0] ?? "";
      name = rest[1];
      sub = rest[2];
      if (rest.length > 3) throw NOT_FOUND_GENERIC();
    }
    const type = this.types.get(resourceKey(group, plural));
    if (type === undefined || !type.versions.includes(version)) throw NOT_FOUND_GENERIC();
    if (!type.namespaced && namespace !== "") throw NOT_FOUND_GENERIC();
    if (type.namespaced && namespace === "" && name !== undefined) throw NOT_FOUND_GENERIC();
    if (sub !== undefined) {
      const ok =
        (sub === "status" && type.statusSubresource) || (sub === "finalize" && type.kind === "Namespace");
      if (!ok) throw NOT_FOUND_GENERIC();
    }
    const t: Target = { type, key: resourceKey(group, plural), group, version, namespace };
    if (name !== undefined) t.name = name;
    if (sub !== undefined) t.subresource = sub === "finalize" ? "status" : sub;
    return t;
  }

  private dispatch(req: ApiRequest, t: Target): ApiResult {
    const q = req.query;
    if (t.name === undefined) {
      switch (req.method) {
        case "GET":
          if (q.get("watch") === "true" || q.get("watch") === "1") return this.watch(req, t);
          return this.list(req, t);
        case "POST":
          if (t.type.namespaced && t.namespace === "")
            throw methodNotAllowed(`POST on ${t.type.plural} requires a namespace in the URL`);
          return this.create(req, t);
        case "DELETE":
          return this.deleteCollection(req, t);
        default:
          throw methodNotAllowed(`the server does not allow this method on the requested resource`);
      }
    }
    switch (req.method) {
      case "GET":
        if (q.get("watch") === "true" || q.get("watch") === "1") {
          // Legacy single-object watch: a fieldSelector on the name.
          const sel = `metadata.name=${t.name}`;
          const fs = q.get("fieldSelector");
          q.set("fieldSelector", fs === null || fs === "" ? sel : `${fs},${sel}`);
          const { name: _name, ...coll } = t;
          return this.watch(req, coll);
        }
        return this.get(req, t);
      case "PUT":
        return this.update(req, t);
      case "PATCH":
        return this.patch(req, t);
      case "DELETE":
        if (t.subresource !== undefined) throw methodNotAllowed("DELETE is not supported on subresources");
        return this.delete(req, t);
      default:
        throw methodNotAllowed(`the server does not allow this method on the requested resource`);
    }
  }

  // ---- encoding ----

  /** The object as the client's version sees it (custom resources are stored at their storage version). */
  render(t: Target, s: StoredObject): string {
    if (t.version === t.type.storageVersion) return s.json;
    return JSON.stringify({ ...s.obj, apiVersion: apiVersionOf(t.group, t.version) });
  }

  private objectResponse(status: number, t: Target, s: StoredObject, req: ApiRequest): ApiResponse {
    if (wantsTable(req.accept)) return json(status, this.table(req, t, [s], this.store.currentRv()));
    return raw(status, this.render(t, s));
  }

  private table(req: ApiRequest, t: Target, items: StoredObject[], rv: number, cont?: string): unknown {
    const opts: TableOptions = {
      includeObject: (req.query.get("includeObject") as TableOptions["includeObject"] | null) ?? "Metadata",
      now: this.now(),
      printerColumns: t.type.printerColumns?.get(t.version) ?? [],
    };
    return tableFor(
      t.type,
      items.map((s) => s.obj),
      opts,
      rv,
      cont,
      (s) => JSON.parse(this.render(t, s)) as unknown,
      items,
    );
  }

  // ---- selectors ----

  private selectors(
    q: URLSearchParams,
    type: ResourceType,
  ): { labels: LabelSelector; fields: FieldSelector } {
    const labels = parseLabelSelector(q.get("labelSelector") ?? "");
    if (typeof labels === "string") throw new SelectorParseError(labels);
    const supported = new Set(["metadata.name", "metadata.namespace", ...type.selectableFields]);
    const fields = parseFieldSelector(q.get("fieldSelector") ?? "", (f) => supported.has(f));
    return { labels, fields };
  }

  private matcher(q: URLSearchParams, type: ResourceType): ((o: KubeObject) => boolean) | undefined {
    const { labels, fields } = this.selectors(q, type);
    if (labels.length === 0 && fields.length === 0) return undefined;
    return (o) =>
      labelsMatch(labels, o.metadata.labels) &&
      fieldsMatch(fields, (f) =>
        f === "metadata.name"
          ? (o.metadata.name ?? "")
          : f === "metadata.namespace"
            ? (o.metadata.namespace ?? "")
            : fieldValue(o, f, BOOLEAN_FIELDS.has(f) ? "false" : ""),
      );
  }

  // ---- read ----

  private get(req: ApiRequest, t: Target): ApiResult {
    const s = this.store.table(t.key).get(t.namespace, t.name ?? "");
    if (s === undefined) throw notFound(t.type.plural, t.group, t.name ?? "");
    return this.objectResponse(200, t, s, req);
  }

  private list(req: ApiRequest, t: Target): ApiResult {
    const q = req.query;
    const match = this.matcher(q, t.type);
    const limitStr = q.get("limit");
    let limit = 0;
    if (limitStr !== null && limitStr !== "") {
      limit = Number(limitStr);
      if (!Number.isInteger(limit) || limit < 0) throw badRequest(`invalid limit "${limitStr}"`);
    }
    // As on a watch: a resourceVersion that is no number is a 400, not ignored.
    const rvParam = q.get("resourceVersion") ?? "";
    if (rvParam !== "" && !/^\d+$/.test(rvParam)) throw badRequest(`invalid resource version "${rvParam}"`);
    const contStr = q.get("continue") ?? "";
    const ns = t.type.namespaced && t.namespace !== "" ? t.namespace : undefined;
    let items: StoredObject[];
    let rv: number;
    let start = 0;
    let snapId: string | undefined;
    if (contStr !== "") {
      const tok = decodeContinue(contStr);
      const snap = this.store.snapshot(tok.snapshot);
      if (snap === undefined)
        throw new ApiError(
          410,
          "Expired",
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        );
      items = snap.items;
      rv = snap.rv;
      start = tok.start;
      snapId = tok.snapshot;
    } else {
      // The snapshot holds the filtered list: like upstream, a continue token
      // carries on the list it was issued for (same selectors).
      items = this.store.table(t.key).sorted(ns, match);
      rv = this.store.currentRv();
    }
    const end = limit > 0 ? Math.min(items.length, start + limit) : items.length;
    const page = items.slice(start, end);
    const i = end;
    let cont: string | undefined;
    let remaining: number | undefined;
    if (limit > 0 && i < items.length) {
      if (snapId === undefined) snapId = this.store.saveSnapshot(items);
      cont = encodeContinue({ rv, start: i, snapshot: snapId });
      if (match === undefined) remaining = items.length - i;
    }
    if (wantsTable(req.accept)) return json(200, this.table(req, t, page, rv, cont));
    const meta: Record<string, unknown> = { resourceVersion: String(rv) };
    if (cont !== undefined) meta.continue = cont;
    if (remaining !== undefined) meta.remainingItemCount = remaining;
    const head = `{"kind":${JSON.stringify(t.type.listKind)},"apiVersion":${JSON.stringify(apiVersionOf(t.group, t.version))},"metadata":${JSON.stringify(meta)},"items":[`;
    const sameVersion = t.version === t.type.storageVersion;
    const body = head + page.map((s) => (sameVersion ? s.json : this.render(t, s))).join(",") + "]}";
    return raw(200, body);
  }

  private watch(req: ApiRequest, t: Target): ApiResult {
    const q = req.query;
    const match = this.matcher(q, t.type);
    const rvStr = q.get("resourceVersion") ?? "";
    if (rvStr !== "" && !/^\d+$/.test(rvStr)) throw badRequest(`invalid resource version "${rvStr}"`);
    const timeoutStr = q.get("timeoutSeconds");
    let timeoutSeconds: number | undefined;
    if (timeoutStr !== null && timeoutStr !== "") {
      timeoutSeconds = Number(timeoutStr);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0)
        throw badRequest(`invalid timeoutSeconds "${timeoutStr}"`);
    }
    const table = wantsTable(req.accept);
    const params: WatchParams = {
      store: this.store,
      key: t.key,
      namespace: t.type.namespaced && t.namespace !== "" ? t.namespace : undefined,
      kind: t.type.kind,
      apiVersion: apiVersionOf(t.group, t.version),
      match,
      resourceVersion: rvStr,
      sendInitialEvents: q.get("sendInitialEvents") === "true",
      allowBookmarks: q.get("allowWatchBookmarks") === "true" || q.get("allowWatchBookmarks") === "1",
      bookmarkIntervalMs: this.opts.bookmarkIntervalMs ?? 15_000,
      // Upstream picks a random timeout in [minRequestTimeout, 2×minRequestTimeout) = [30, 60) minutes.
      timeoutMs:
        timeoutSeconds !== undefined && timeoutSeconds > 0
          ? timeoutSeconds * 1000
          : (1800 + Math.floor(this.random() * 1800)) * 1000,
      render: (s) => (table ? JSON.stringify(this.table(req, t, [s], s.rv)) : this.render(t, s)),
      sameVersion: t.version === t.type.storageVersion && !table,
      log: this.log,
    };
    return { kind: "watch", contentType: JSON_TYPE, start: (sink) => startWatch(params, sink) };
  }

  // ---- write helpers ----

  private decodeFor(req: ApiRequest, t: Target): KubeObject {
    const body = decodeObject(req.body, req.contentType);
    const wantAv = apiVersionOf(t.group, t.version);
    // The decoder defaults a missing apiVersion/kind from the URL, then refuses a mismatch.
    if (body.apiVersion === undefined || body.apiVersion === "") body.apiVersion = wantAv;
    if (body.kind === undefined || body.kind === "") body.kind = t.type.kind;
    if (body.apiVersion !== wantAv)
      throw badRequest(
        `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${wantAv})`,
      );
    if (body.kind !== t.type.kind)
      throw badRequest(
        `the kind in the data (${String(body.kind)}) does not match the expected kind (${t.type.kind})`,
      );
    if (body.metadata === undefined || body.metadata === null) body.metadata = {};
    if (!isObj(body.metadata)) throw badRequest("metadata must be an object");
    return body as KubeObject;
  }

  private checkNamespace(o: KubeObject, t: Target): void {
    if (!t.type.namespaced) {
      delete o.metadata.namespace;
      return;
    }
    const ns = o.metadata.namespace;
    if (ns === undefined || ns === "") o.metadata.namespace = t.namespace;
    else if (ns !== t.namespace)
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
  }

  /** Storage form of a custom resource: storage apiVersion, pruned, defaulted, validated. */
  private admitCustom(t: Target, o: KubeObject, strict: boolean, errors: FieldError[]): string[] {
    const schema = t.type.schemas?.get(t.version);
    if (schema === undefined) return [];
    const removed = [
      ...dropUnknownFields({ metadata: { obj: OBJECT_META } }, { metadata: o.metadata }),
      ...prune(schema, o),
    ];
    applyDefaults(schema, o);
    errors.push(...validateCustomResource(schema, o));
    if (strict && removed.length > 0)
      throw badRequest(`strict decoding error: ${removed.map((r) => `unknown field "${r}"`).join(", ")}`);
    o.apiVersion = apiVersionOf(t.group, t.type.storageVersion);
    return removed;
  }

  private validateWrite(t: Target, o: KubeObject, strict: boolean): void {
    if (t.type.schemas === undefined) {
      // Built-ins decode into fixed structs: unknown fields are dropped, or refused when Strict.
      const level = BUILTIN_FIELDS[t.type.kind];
      const removed = level === undefined ? [] : dropUnknownFields(level, o);
      if (strict && removed.length > 0)
        throw badRequest(`strict decoding error: ${removed.map((r) => `unknown field "${r}"`).join(", ")}`);
    }
    const errors = validateObjectMeta(o.metadata, t.type.nameRule);
    if (t.type.schemas !== undefined) this.admitCustom(t, o, strict, errors);
    else errors.push(...validateBuiltin(o));
    if (t.type.kind === "CustomResourceDefinition" && t.group === "apiextensions.k8s.io")
      errors.push(...validateCrd(o));
    if (errors.length > 0) throw invalid(t.type.kind, t.group, o.metadata.name ?? "", errors);
  }

  private strict(req: ApiRequest): boolean {
    const fv = req.query.get("fieldValidation");
    if (fv !== null && fv !== "" && !["Strict", "Warn", "Ignore"].includes(fv))
      throw badRequest(`fieldValidation parameter unsupported: ${fv}`);
    return fv === "Strict";
  }

  private dryRun(req: ApiRequest): boolean {
    const d = req.query.getAll("dryRun");
    for (const v of d) if (v !== "All") throw badRequest(`unsupported dryRun value "${v}"`);
    return d.length > 0;
  }

  private requireNamespace(t: Target): void {
    if (!t.type.namespaced) return;
    if (this.store.table(resourceKey("", "namespaces")).get("", t.namespace) === undefined)
      throw notFound("namespaces", "", t.namespace);
  }

  // ---- create ----

  private create(req: ApiRequest, t: Target): ApiResult {
    if (t.subresource !== undefined) throw methodNotAllowed("POST is not supported on subresources");
    const o = this.decodeFor(req, t);
    this.checkNamespace(o, t);
    this.requireNamespace(t);
    const m = o.metadata;
    if (
      (m.name === undefined || m.name === "") &&
      typeof m.generateName === "string" &&
      m.generateName !== ""
    )
      m.name = generateName(m.generateName, this.random);
    for (const k of ["uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"])
      delete m[k];
    m.creationTimestamp = this.nowIso();
    m.uid = randomUUID();
    // A client-sent generation is kept on types without one, as upstream's BeforeCreate does.
    if (t.type.generation) m.generation = 1;
    if (!t.type.keepStatusOnCreate) delete o.status;
    prepareForCreate(o, {
      allocateClusterIP: () => {
        const n = this.nextClusterIP++;
        return `10.96.${(n >> 8) & 255}.${n & 255}`;
      },
    });
    this.validateWrite(t, o, this.strict(req));
    const table = this.store.table(t.key);
    if (table.get(m.namespace ?? "", m.name ?? "") !== undefined)
      throw alreadyExists(t.type.plural, t.group, m.name ?? "");
    if (t.type.kind === "CustomResourceDefinition" && t.group === "apiextensions.k8s.io") {
      const nt = resourceTypeOf(o);
      const clash = this.types.get(resourceKey(nt.group, nt.plural));
      if (clash !== undefined && clash.crdName === undefined)
        throw invalid(t.type.kind, t.group, m.name ?? "", [
          {
            type: "FieldValueInvalid",
            field: "spec.names.plural",
            message: `Invalid value: "${nt.plural}": a built-in resource already has this name`,
          },
        ]);
      o.status = crdStatus(o, this.nowIso(), []);
    }
    if (this.dryRun(req)) return raw(201, JSON.stringify(o));
    const stored = this.store.put(t.key, o);
    if (t.type.kind === "CustomResourceDefinition" && t.group === "apiextensions.k8s.io")
      this.onCrdWritten(stored.obj);
    this.log.debug({ resource: t.key, ns: m.namespace, name: m.name, rv: stored.rv }, "created");
    return this.objectResponse(201, t, stored, req);
  }

  // ---- update / patch ----

  private update(req: ApiRequest, t: Target): ApiResult {
    const o = this.decodeFor(req, t);
    this.checkNamespace(o, t);
    const name = t.name ?? "";
    if (o.metadata.name === undefined || o.metadata.name === "") o.metadata.name = name;
    if (o.metadata.name !== name)
      throw badRequest(
        `the name of the object (${o.metadata.name}) does not match the name on the URL (${name})`,
      );
    const existing = this.store.table(t.key).get(t.namespace, name);
    if (existing === undefined) {
      if (t.type.allowCreateOnUpdate && t.subresource === undefined) {
        delete o.metadata.resourceVersion;
        return this.create({ ...req, body: Buffer.from(JSON.stringify(o)), contentType: JSON_TYPE }, t);
      }
      throw notFound(t.type.plural, t.group, name);
    }
    const rv = o.metadata.resourceVersion;
    if (rv === undefined || rv === "") {
      if (!t.type.allowUnconditionalUpdate)
        throw invalid(t.type.kind, t.group, name, [
          {
            type: "FieldValueInvalid",
            field: "metadata.resourceVersion",
            message: "Invalid value: 0x0: must be specified for an update",
          },
        ]);
    }
    return this.commitUpdate(req, t, existing, o);
  }

  private patch(req: ApiRequest, t: Target): ApiResult {
    const name = t.name ?? "";
    const existing = this.store.table(t.key).get(t.namespace, name);
    const mt = mediaType(req.contentType);
    const PATCH_TYPES =
      "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json";
    if (mt === "application/apply-patch+yaml") throw unsupportedMediaType(PATCH_TYPES);
    if (existing === undefined) throw notFound(t.type.plural, t.group, name);
    const current: unknown = JSON.parse(this.render(t, existing));
    let patched: unknown;
    switch (mt) {
      case "application/merge-patch+json":
        patched = mergePatch(current, decodeBody(req.body, "json"));
        break;
      case "application/json-patch+json":
        patched = jsonPatch(current, decodeBody(req.body, "json"));
        break;
      case "application/strategic-merge-patch+json":
        if (!t.type.strategicMerge)
          throw unsupportedMediaType("application/json-patch+json, application/merge-patch+json");
        patched = strategicMergePatch(current, decodeBody(req.body, "json"), t.type.kind);
        break;
      default:
        throw unsupportedMediaType(PATCH_TYPES);
    }
    if (!isObj(patched)) throw new ApiError(422, "Invalid", "the patched object is not a JSON object");
    const o = patched as KubeObject;
    if (!isObj(o.metadata)) o.metadata = {};
    const wantAv = apiVersionOf(t.group, t.version);
    if (o.apiVersion !== wantAv || o.kind !== t.type.kind)
      throw badRequest(
        `the patch may not change apiVersion/kind (${String(o.apiVersion)}, ${String(o.kind)})`,
      );
    if (o.metadata.name !== name) throw badRequest(`the patch may not change metadata.name`);
    this.checkNamespace(o, t);
    return this.commitUpdate(req, t, existing, o);
  }

  /** Shared tail of PUT and PATCH: preconditions, immutable fields, status rules, validation, write. */
  private commitUpdate(req: ApiRequest, t: Target, existing: StoredObject, input: KubeObject): ApiResult {
    const name = t.name ?? "";
    const rv = input.metadata.resourceVersion;
    if (rv !== undefined && rv !== "" && rv !== existing.obj.metadata.resourceVersion)
      throw conflict(
        t.type.plural,
        t.group,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
      );
    const old = existing.obj;
    let o: KubeObject;
    if (t.subresource === "status") {
      // The status subresource changes status only (plus, for namespaces' finalize, spec.finalizers).
      o = structuredClone(old);
      if (input.status === undefined) delete o.status;
      else o.status = input.status;
      if (t.type.kind === "Namespace" && isObj(input.spec))
        o.spec = { ...(isObj(o.spec) ? o.spec : {}), finalizers: input.spec.finalizers };
    } else {
      o = input;
      if (t.type.statusSubresource) {
        if (old.status === undefined) delete o.status;
        else o.status = structuredClone(old.status);
      }
    }
    // Server-owned metadata is carried over, whatever the client sent.
    const m = o.metadata;
    m.uid = old.metadata.uid ?? "";
    m.creationTimestamp = old.metadata.creationTimestamp ?? "";
    // Requests cannot change generation (upstream BeforeUpdate copies the old one).
    if (old.metadata.generation !== undefined) m.generation = old.metadata.generation;
    else delete m.generation;
    if (old.metadata.deletionTimestamp !== undefined) m.deletionTimestamp = old.metadata.deletionTimestamp;
    else delete m.deletionTimestamp;
    if (old.metadata.deletionGracePeriodSeconds !== undefined)
      m.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
    else delete m.deletionGracePeriodSeconds;
    if (t.type.namespaced) m.namespace = old.metadata.namespace ?? "";
    delete m.selfLink;
    const errs = t.subresource === undefined ? prepareForUpdate(o, old) : (normaliseSecret(o), []);
    if (errs.length > 0) throw invalid(t.type.kind, t.group, name, errs);
    this.validateWrite(t, o, this.strict(req));
    const isCrd = t.type.kind === "CustomResourceDefinition" && t.group === "apiextensions.k8s.io";
    if (isCrd) {
      const oldType = resourceTypeOf(old);
      const nt = resourceTypeOf(o);
      if (nt.group !== oldType.group || nt.plural !== oldType.plural || nt.namespaced !== oldType.namespaced)
        throw invalid(t.type.kind, t.group, name, [
          {
            type: "FieldValueInvalid",
            field: "spec",
            message: "Invalid value: group, plural and scope are immutable",
          },
        ]);
      const prevStored =
        isObj(old.status) && Array.isArray(old.status.storedVersions)
          ? (old.status.storedVersions as string[])
          : [];
      o.status = crdStatus(o, this.nowIso(), prevStored);
    }
    // generation counts changes to everything but metadata and status.
    const specOf = (x: KubeObject): string => {
      const { metadata: _m, status: _s, ...rest } = x;
      return JSON.stringify(canonical(rest));
    };
    if (t.type.generation && specOf(o) !== specOf(old)) m.generation = (old.metadata.generation ?? 1) + 1;
    m.resourceVersion = old.metadata.resourceVersion ?? "";
    if (JSON.stringify(canonical(o)) === JSON.stringify(canonical(old))) {
      // A no-op update writes nothing: same resourceVersion, no watch event (as upstream).
      return this.objectResponse(200, t, existing, req);
    }
    if (this.dryRun(req)) return raw(200, JSON.stringify(o));
    // Finalizers drained on an object being deleted: it goes now.
    if (m.deletionTimestamp !== undefined && (m.finalizers === undefined || m.finalizers.length === 0)) {
      this.store.put(t.key, o);
      const gone = this.removeObject(t.key, t.type, t.namespace, name);
      return this.objectResponse(200, t, gone ?? existing, req);
    }
    const stored = this.store.put(t.key, o);
    if (isCrd) this.onCrdWritten(stored.obj);
    return this.objectResponse(200, t, stored, req);
  }

  // ---- delete ----

  private deleteOptions(req: ApiRequest): { rv?: string; uid?: string; orphan?: boolean } {
    const out: { rv?: string; uid?: string; orphan?: boolean } = {};
    const qp = req.query.get("propagationPolicy");
    if (qp !== null && qp !== "") out.orphan = this.propagation(qp);
    if (req.body.length === 0 || req.body.toString("utf8").trim() === "") return out;
    const body = decodeBody(req.body, mediaType(req.contentType) === "application/yaml" ? "yaml" : "json");
    if (!isObj(body)) throw badRequest("DeleteOptions must be an object");
    if (typeof body.propagationPolicy === "string") out.orphan = this.propagation(body.propagationPolicy);
    else if (body.orphanDependents === true) out.orphan = true;
    const pre = body.preconditions;
    if (isObj(pre)) {
      if (typeof pre.resourceVersion === "string") out.rv = pre.resourceVersion;
      if (typeof pre.uid === "string") out.uid = pre.uid;
    }
    return out;
  }

  /** Orphan leaves dependents (minus the owner reference); Background and Foreground delete them. */
  private propagation(p: string): boolean {
    if (p !== "Orphan" && p !== "Background" && p !== "Foreground")
      throw badRequest(`propagationPolicy must be one of Orphan, Background, Foreground; got "${p}"`);
    return p === "Orphan";
  }

  private delete(req: ApiRequest, t: Target): ApiResult {
    const name = t.name ?? "";
    const existing = this.store.table(t.key).get(t.namespace, name);
    if (existing === undefined) throw notFound(t.type.plural, t.group, name);
    const pre = this.deleteOptions(req);
    const precondition = (
      field: "ResourceVersion" | "UID",
      want: string | undefined,
      have: string | undefined,
    ) => {
      if (want !== undefined && want !== have)
        throw conflict(
          t.type.plural,
          t.group,
          name,
          `Precondition failed: ${field} in precondition: ${want}, ${field} in object meta: ${have ?? ""}`,
        );
    };
    precondition("ResourceVersion", pre.rv, existing.obj.metadata.resourceVersion);
    precondition("UID", pre.uid, existing.obj.metadata.uid);
    if (this.dryRun(req)) return this.objectResponse(200, t, existing, req);
    const fins = existing.obj.metadata.finalizers;
    if (Array.isArray(fins) && fins.length > 0) {
      // Graceful: mark for deletion; the object goes when its finalizers are removed.
      if (existing.obj.metadata.deletionTimestamp !== undefined)
        return this.objectResponse(200, t, existing, req);
      const o = structuredClone(existing.obj);
      o.metadata.deletionTimestamp = this.nowIso();
      o.metadata.deletionGracePeriodSeconds = 0;
      const stored = this.store.put(t.key, o);
      return this.objectResponse(200, t, stored, req);
    }
    let terminating: StoredObject | undefined;
    if (t.type.kind === "Namespace" && t.group === "") {
      // Upstream marks the namespace Terminating (watchers see MODIFIED), the
      // namespace controller then empties it and removes it. Here all of that
      // happens before the response.
      const o = structuredClone(existing.obj);
      o.metadata.deletionTimestamp = this.nowIso();
      o.status = { ...(isObj(o.status) ? o.status : {}), phase: "Terminating" };
      terminating = this.store.put(t.key, o);
    }
    const gone = this.removeObject(t.key, t.type, t.namespace, name, pre.orphan === true);
    if (gone === undefined) throw notFound(t.type.plural, t.group, name);
    if (terminating !== undefined) return this.objectResponse(200, t, terminating, req);
    return this.objectResponse(200, t, gone, req);
  }

  /** Removes one object and whatever depends on it (a namespace's content, a CRD's resources). */
  private removeObject(
    key: string,
    type: ResourceType,
    namespace: string,
    name: string,
    orphan = false,
  ): StoredObject | undefined {
    if (type.kind === "Namespace" && type.group === "") {
      for (const other of this.types.values()) {
        if (!other.namespaced) continue;
        const k = resourceKey(other.group, other.plural);
        const tab = this.store.table(k);
        const m = tab.byNamespace.get(name);
        if (m === undefined) continue;
        for (const n of [...m.keys()]) this.store.remove(k, name, n);
      }
    }
    const gone = this.store.remove(key, namespace, name);
    const goneUid = gone?.obj.metadata.uid;
    if (goneUid !== undefined) this.collectDependents(goneUid, orphan);
    if (
      gone !== undefined &&
      type.kind === "CustomResourceDefinition" &&
      type.group === "apiextensions.k8s.io"
    ) {
      const nt = resourceTypeOf(gone.obj);
      const k = resourceKey(nt.group, nt.plural);
      if (this.types.get(k)?.crdName === name) {
        const tab = this.store.table(k);
        for (const s of [...tab.all()])
          this.store.remove(k, s.obj.metadata.namespace ?? "", s.obj.metadata.name ?? "");
        this.unregisterType(k);
        this.log.info({ crd: name }, "stopped serving custom resource");
      }
    }
    return gone;
  }

  /**
   * The garbage collector's job, done at once (upstream does it
   * asynchronously): a dependent whose owners are all gone is deleted
   * (finalizers respected); one with a surviving owner, or orphaned, only
   * loses the reference to the deleted owner.
   */
  private collectDependents(ownerUid: string, orphan: boolean): void {
    for (const ref of this.store.dependentsOf(ownerUid)) {
      const s = this.store.table(ref.key).get(ref.namespace, ref.name);
      const type = this.types.get(ref.key);
      if (s === undefined || type === undefined) continue;
      const refs = (s.obj.metadata.ownerReferences ?? []) as { uid?: unknown }[];
      const remaining = refs.filter((r) => r.uid !== ownerUid);
      const alive = remaining.some(
        (r) => typeof r.uid === "string" && this.store.locate(r.uid) !== undefined,
      );
      if (orphan || alive) {
        const o = structuredClone(s.obj);
        if (remaining.length === 0) delete o.metadata.ownerReferences;
        else o.metadata.ownerReferences = remaining;
        this.store.put(ref.key, o);
        continue;
      }
      const fins = s.obj.metadata.finalizers;
      if (Array.isArray(fins) && fins.length > 0) {
        if (s.obj.metadata.deletionTimestamp === undefined) {
          const o = structuredClone(s.obj);
          o.metadata.deletionTimestamp = this.nowIso();
          o.metadata.deletionGracePeriodSeconds = 0;
          this.store.put(ref.key, o);
        }
        continue;
      }
      this.removeObject(ref.key, type, ref.namespace, ref.name);
    }
  }

  private deleteCollection(req: ApiRequest, t: Target): ApiResult {
    const match = this.matcher(req.query, t.type);
    const ns = t.type.namespaced && t.namespace !== "" ? t.namespace : undefined;
    const items = this.store
      .table(t.key)
      .sorted(ns)
      .filter((s) => match === undefined || match(s.obj));
    const out: string[] = [];
    const dry = this.dryRun(req);
    for (const s of items) {
      if (dry) {
        out.push(this.render(t, s));
        continue;
      }
      const r = this.delete(
        { ...req, body: Buffer.alloc(0) },
        { ...t, namespace: s.obj.metadata.namespace ?? "", name: s.obj.metadata.name ?? "" },
      );
      if (r.kind === "response") out.push(r.body);
    }
    const head = `{"kind":${JSON.stringify(t.type.listKind)},"apiVersion":${JSON.stringify(apiVersionOf(t.group, t.version))},"metadata":{"resourceVersion":"${this.store.currentRv()}"},"items":[`;
    return raw(200, head + out.join(",") + "]}");
  }

  // ---- CRDs ----

  private onCrdWritten(crd: KubeObject): void {
    const nt = resourceTypeOf(crd);
    const key = resourceKey(nt.group, nt.plural);
    const prev = this.types.get(key);
    this.types.set(key, nt);
    if (prev === undefined) this.store.table(key);
    this.log.info(
      { crd: crd.metadata.name, versions: nt.versions, scope: nt.namespaced ? "Namespaced" : "Cluster" },
      "serving custom resource",
    );
  }

  /** Registers a CRD object at start-up (from a manifest or a snapshot); replaces an existing one. */
  applyCrd(doc: Record<string, unknown>): void {
    const t = this.types.get(resourceKey("apiextensions.k8s.io", "customresourcedefinitions"));
    if (t === undefined) throw new Error("CRD type missing");
    const name = isObj(doc.metadata) && typeof doc.metadata.name === "string" ? doc.metadata.name : "";
    const target: Target = {
      type: t,
      key: resourceKey(t.group, t.plural),
      group: t.group,
      version: "v1",
      namespace: "",
      name,
    };
    const existing = this.store.table(target.key).get("", name);
    const body = Buffer.from(JSON.stringify(doc));
    let res: ApiResult;
    if (existing === undefined) {
      const { name: _n, ...coll } = target;
      res = this.create(
        { method: "POST", path: "", query: new URLSearchParams(), body, contentType: JSON_TYPE },
        coll,
      );
    } else {
      const md = {
        ...(doc.metadata as Record<string, unknown>),
        resourceVersion: existing.obj.metadata.resourceVersion,
      };
      res = this.update(
        {
          method: "PUT",
          path: "",
          query: new URLSearchParams(),
          body: Buffer.from(JSON.stringify({ ...doc, metadata: md })),
          contentType: JSON_TYPE,
        },
        target,
      );
    }
    if (res.kind === "response" && res.status >= 300) throw new Error(`CRD ${name}: ${res.body}`);
  }

  // ---- persistence ----

  /** Everything needed to restore the server: objects of every resource and the resourceVersion. */
  dump(): { resourceVersion: number; objects: Record<string, KubeObject[]> } {
    const objects: Record<string, KubeObject[]> = {};
    for (const key of this.store.tableKeys()) {
      const items = [...this.store.table(key).all()].map((s) => s.obj);
      if (items.length > 0) objects[key] = items;
    }
    return { resourceVersion: this.store.currentRv(), objects };
  }

  /** Loads a dump (CRDs first, so their resources have a type to land in). */
  restore(state: { resourceVersion: number; objects: Record<string, KubeObject[]> }): void {
    const crdKey = resourceKey("apiextensions.k8s.io", "customresourcedefinitions");
    for (const crd of state.objects[crdKey] ?? []) {
      this.store.restore(crdKey, crd);
      this.onCrdWritten(crd);
    }
    for (const [key, objs] of Object.entries(state.objects)) {
      if (key === crdKey) continue;
      if (!this.types.has(key)) {
        this.log.warn(
          { resource: key, count: objs.length },
          "state file holds objects of an unknown resource; dropped",
        );
        continue;
      }
      for (const o of objs) this.store.restore(key, o);
    }
    this.store.resetRv(state.resourceVersion);
  }

  /**
   * Replays one logged change (persistence.ts), without events: after the
   * snapshot, in log order. A CRD's put registers its type as at start; a
   * CRD's delete is followed in the log by the deletes of its objects, so
   * its type is dropped by `settleReplay` once the whole log is in.
   */
  replay(r: JournalRecord): void {
    const crdKey = resourceKey("apiextensions.k8s.io", "customresourcedefinitions");
    if (r.op === "del") {
      this.store.erase(r.key, r.namespace, r.name);
      return;
    }
    const obj = JSON.parse(r.json) as KubeObject;
    if (r.key === crdKey) {
      this.store.restore(crdKey, obj);
      this.onCrdWritten(obj);
      return;
    }
    if (!this.types.has(r.key)) {
      this.log.warn(
        { resource: r.key, name: obj.metadata.name },
        "log holds an object of an unknown resource; dropped",
      );
      return;
    }
    this.store.restore(r.key, obj);
  }

  /** After a replay: stop serving custom resources whose CRD the log deleted; continue numbering at `rv`. */
  settleReplay(rv: number): void {
    const crds = this.store.table(resourceKey("apiextensions.k8s.io", "customresourcedefinitions"));
    for (const [key, t] of this.types) {
      if (t.crdName !== undefined && crds.get("", t.crdName) === undefined) this.unregisterType(key);
    }
    this.store.resetRv(rv);
  }

  /** The namespaces a fresh cluster starts with. */
  createDefaultNamespaces(): void {
    for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
      const res = this.handle({
        method: "POST",
        path: "/api/v1/namespaces",
        query: new URLSearchParams(),
        contentType: JSON_TYPE,
        body: Buffer.from(JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } })),
      });
      if (res.kind === "response" && res.status >= 300 && res.status !== 409)
        throw new Error(`namespace ${name}: ${res.body}`);
    }
  }
}
