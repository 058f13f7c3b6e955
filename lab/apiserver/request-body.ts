/**
 * Decoding request bodies: JSON or YAML (`Content-Type: application/yaml`),
 * exactly one document, and an object where an object is required. A body
 * that does not parse is a 400 BadRequest Status, never a 500.
 */
import { parseAllDocuments } from "yaml";
import { badRequest, unsupportedMediaType } from "./status.js";
import { PROTOBUF_CONTENT_TYPE, decodeProtobufObject } from "./protobuf.js";

export type BodyFormat = "json" | "yaml";

/** The media type without parameters, lowercased ("application/json; charset=utf-8" → "application/json"). */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

export function bodyFormat(contentType: string | undefined): BodyFormat {
  const mt = mediaType(contentType);
  if (mt === "" || mt === "application/json" || mt === "*/*") return "json";
  if (mt === "application/yaml" || mt === "application/x-yaml" || mt === "text/yaml") return "yaml";
  throw unsupportedMediaType("application/json, application/yaml");
}

/** Upstream's JSON decoder refuses documents nested deeper than this (sigs.k8s.io/json). */
export const MAX_DEPTH = 10_000;

/** Nesting depth of a decoded document, measured without recursion. */
function depthExceeds(v: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop() as [unknown, number];
    if (typeof x !== "object" || x === null) continue;
    if (d > max) return true;
    for (const c of Array.isArray(x) ? x : Object.values(x))
      if (typeof c === "object" && c !== null) stack.push([c, d + 1]);
  }
  return false;
}

export function decodeBody(body: Buffer, format: BodyFormat): unknown {
  const v = decodeBodyRaw(body, format);
  if (depthExceeds(v, MAX_DEPTH))
    throw badRequest(`the request body is nested more than ${MAX_DEPTH} levels deep`);
  return v;
}

function decodeBodyRaw(body: Buffer, format: BodyFormat): unknown {
  const text = body.toString("utf8");
  if (text.trim() === "") throw badRequest("the request body is empty");
  if (format === "json") {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
    }
  }
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw badRequest("yaml: empty document");
  const real = docs.filter((d) => d.contents !== null);
  if (real.length !== 1) throw badRequest(`yaml: expected exactly one document, got ${real.length}`);
  const doc = real[0];
  if (doc === undefined) throw badRequest("yaml: empty document");
  if (doc.errors.length > 0) throw badRequest(`yaml: ${doc.errors[0]?.message ?? "parse error"}`);
  return doc.toJS({ maxAliasCount: 100 });
}

export function decodeObject(body: Buffer, contentType: string | undefined): Record<string, unknown> {
  if (mediaType(contentType) === PROTOBUF_CONTENT_TYPE) return decodeProtobufObject(body);
  const v = decodeBody(body, bodyFormat(contentType));
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw badRequest("couldn't get version/kind; json parse error: the body must be a JSON object");
  return v as Record<string, unknown>;
}
