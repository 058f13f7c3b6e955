/**
 * Decoding of Kubernetes protobuf request bodies
 * (`Content-Type: application/vnd.kubernetes.protobuf`) for the few kinds
 * that kubectl's typed generators create (`kubectl create namespace`,
 * `create configmap`, `create secret`, `create serviceaccount`): kubectl
 * sends those as protobuf and does not fall back to JSON on 415.
 *
 * Envelope (k8s.io/apimachinery/pkg/runtime/serializer/protobuf): the
 * 4-byte magic "k8s\0", then a runtime.Unknown message
 * {typeMeta=1 {apiVersion=1, kind=2}, raw=2, contentEncoding=3, contentType=4}
 * whose `raw` is the object in the field numbering of the generated.proto
 * files of k8s.io/api/core/v1 and k8s.io/apimachinery/pkg/apis/meta/v1.
 * Proto wire format: https://protobuf.dev/programming-guides/encoding/
 */
import { badRequest, unsupportedMediaType } from "./status.js";

export const PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf";
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Kind =
  "string" | "int" | "bool" | "bytes" | "time" | "msg" | "map" | "mapBytes" | "repString" | "repMsg";
interface Field {
  name: string;
  kind: Kind;
  msg?: Message;
}
type Message = Record<number, Field>;

const f = (name: string, kind: Kind, msg?: Message): Field =>
  msg === undefined ? { name, kind } : { name, kind, msg };

const OwnerReference: Message = {
  1: f("kind", "string"),
  3: f("name", "string"),
  4: f("uid", "string"),
  5: f("apiVersion", "string"),
  6: f("controller", "bool"),
  7: f("blockOwnerDeletion", "bool"),
};
const ObjectMeta: Message = {
  1: f("name", "string"),
  2: f("generateName", "string"),
  3: f("namespace", "string"),
  5: f("uid", "string"),
  6: f("resourceVersion", "string"),
  7: f("generation", "int"),
  8: f("creationTimestamp", "time"),
  9: f("deletionTimestamp", "time"),
  10: f("deletionGracePeriodSeconds", "int"),
  11: f("labels", "map"),
  12: f("annotations", "map"),
  13: f("ownerReferences", "repMsg", OwnerReference),
  14: f("finalizers", "repString"),
};
const ObjectReference: Message = {
  1: f("kind", "string"),
  2: f("namespace", "string"),
  3: f("name", "string"),
  4: f("uid", "string"),
  5: f("apiVersion", "string"),
  6: f("resourceVersion", "string"),
  7: f("fieldPath", "string"),
};

/** Top-level messages by "apiVersion/kind". */
const KINDS: Record<string, Message> = {
  "v1/Namespace": {
    1: f("metadata", "msg", ObjectMeta),
    2: f("spec", "msg", { 1: f("finalizers", "repString") }),
    3: f("status", "msg", { 1: f("phase", "string") }),
  },
  "v1/ConfigMap": {
    1: f("metadata", "msg", ObjectMeta),
    2: f("data", "map"),
    3: f("binaryData", "mapBytes"),
    4: f("immutable", "bool"),
  },
  "v1/Secret": {
    1: f("metadata", "msg", ObjectMeta),
    2: f("data", "mapBytes"),
    3: f("type", "string"),
    4: f("stringData", "map"),
    5: f("immutable", "bool"),
  },
  "v1/ServiceAccount": {
    1: f("metadata", "msg", ObjectMeta),
    2: f("secrets", "repMsg", ObjectReference),
    3: f("imagePullSecrets", "repMsg", { 1: f("name", "string") }),
    4: f("automountServiceAccountToken", "bool"),
  },
};

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw badRequest("protobuf: truncated varint");
      const b = this.buf.readUInt8(this.pos++);
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw badRequest("protobuf: varint too long");
    }
  }
  bytes(): Buffer {
    const len = Number(this.varint());
    if (this.pos + len > this.buf.length) throw badRequest("protobuf: truncated field");
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw badRequest(`protobuf: unsupported wire type ${wire}`);
  }
}

function fields(buf: Buffer, each: (num: number, wire: number, r: Reader) => void): void {
  const r = new Reader(buf);
  while (!r.done) {
    const key = Number(r.varint());
    each(key >>> 3, key & 7, r);
  }
}

function mapEntry(buf: Buffer, bytesValue: boolean): [string, string] {
  let k = "";
  let v = "";
  fields(buf, (num, wire, r) => {
    if (num === 1 && wire === 2) k = r.bytes().toString("utf8");
    else if (num === 2 && wire === 2)
      v = bytesValue ? r.bytes().toString("base64") : r.bytes().toString("utf8");
    else r.skip(wire);
  });
  return [k, v];
}

function time(buf: Buffer): string {
  let seconds = 0n;
  fields(buf, (num, wire, r) => {
    if (num === 1 && wire === 0) seconds = r.varint();
    else r.skip(wire);
  });
  return new Date(Number(seconds) * 1000).toISOString().replace(".000Z", "Z");
}

function decodeMessage(buf: Buffer, msg: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  fields(buf, (num, wire, r) => {
    const fd = msg[num];
    if (fd === undefined) {
      r.skip(wire);
      return;
    }
    const expectLen = !["int", "bool"].includes(fd.kind);
    if ((wire === 2) !== expectLen) throw badRequest(`protobuf: field ${fd.name} has wire type ${wire}`);
    switch (fd.kind) {
      case "string": {
        const s = r.bytes().toString("utf8");
        if (s !== "") out[fd.name] = s;
        break;
      }
      case "bytes":
        out[fd.name] = r.bytes().toString("base64");
        break;
      case "int": {
        const v = BigInt.asIntN(64, r.varint());
        if (v !== 0n) out[fd.name] = Number(v);
        break;
      }
      case "bool":
        if (r.varint() !== 0n) out[fd.name] = true;
        break;
      case "time": {
        const t = time(r.bytes());
        if (t !== "1970-01-01T00:00:00Z") out[fd.name] = t;
        break;
      }
      case "msg":
        out[fd.name] = decodeMessage(r.bytes(), fd.msg ?? {});
        break;
      case "map":
      case "mapBytes": {
        const [k, v] = mapEntry(r.bytes(), fd.kind === "mapBytes");
        const m = (out[fd.name] as Record<string, string> | undefined) ?? {};
        m[k] = v;
        out[fd.name] = m;
        break;
      }
      case "repString":
        out[fd.name] = [...((out[fd.name] as string[] | undefined) ?? []), r.bytes().toString("utf8")];
        break;
      case "repMsg":
        out[fd.name] = [
          ...((out[fd.name] as unknown[] | undefined) ?? []),
          decodeMessage(r.bytes(), fd.msg ?? {}),
        ];
        break;
    }
  });
  return out;
}

/** Decodes a protobuf-encoded object of a supported kind into its JSON form. */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC))
    throw badRequest("protobuf: missing the k8s\\0 envelope prefix");
  let apiVersion = "";
  let kind = "";
  let raw: Buffer = Buffer.alloc(0);
  fields(body.subarray(4), (num, wire, r) => {
    if (num === 1 && wire === 2) {
      fields(r.bytes(), (n2, w2, r2) => {
        if (n2 === 1 && w2 === 2) apiVersion = r2.bytes().toString("utf8");
        else if (n2 === 2 && w2 === 2) kind = r2.bytes().toString("utf8");
        else r2.skip(w2);
      });
    } else if (num === 2 && wire === 2) raw = r.bytes();
    else r.skip(wire);
  });
  const msg = KINDS[`${apiVersion}/${kind}`];
  if (msg === undefined)
    throw unsupportedMediaType(
      `application/json, application/yaml (protobuf only for ${Object.keys(KINDS).join(", ")}; send ${apiVersion}/${kind} as JSON or YAML, e.g. kubectl apply -f)`,
    );
  return { apiVersion, kind, ...decodeMessage(raw, msg) };
}
