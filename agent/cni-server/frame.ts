// The shim's framing (cni/shim/PROTOCOL.md) as a pure codec: decode a request
// from the bytes received so far, encode a reply. Bounds are checked before
// any allocation, so a hostile length cannot make the agent buffer gigabytes.
import { z } from "zod";

export const MAGIC = Buffer.from("TRL1", "ascii");
export const MAX_ENV_ENTRIES = 64;
export const MAX_ENV_ENTRY = 64 * 1024;
export const MAX_STDIN = 16 * 1024 * 1024;
export const MAX_REQUEST = 4 + 4 + MAX_ENV_ENTRIES * (4 + MAX_ENV_ENTRY) + 4 + MAX_STDIN;

export interface ShimRequest {
  env: Record<string, string>;
  stdin: Buffer;
}

export type DecodeResult =
  /** `need`: the least total length that can complete the frame, as far as known. */
  | { kind: "incomplete"; need: number }
  | { kind: "frame"; request: ShimRequest; length: number }
  | { kind: "error"; message: string };

const CNI_NAME = /^CNI_[A-Z0-9_]+$/;

/** What the server accepts as env: CNI_* names, printable values. */
export const shimEnvSchema = z.record(
  z.string().regex(CNI_NAME, "only CNI_* variables are forwarded"),
  z.string().max(MAX_ENV_ENTRY),
);

/** Decode a request frame from the start of `buf`. */
export function decodeRequest(buf: Buffer): DecodeResult {
  const need = (n: number): boolean => buf.length >= n;
  if (!need(4)) {
    return buf.equals(MAGIC.subarray(0, buf.length))
      ? { kind: "incomplete", need: 8 }
      : { kind: "error", message: "bad magic (expected TRL1)" };
  }
  if (!buf.subarray(0, 4).equals(MAGIC)) return { kind: "error", message: "bad magic (expected TRL1)" };
  if (!need(8)) return { kind: "incomplete", need: 8 };
  const n = buf.readUInt32BE(4);
  if (n > MAX_ENV_ENTRIES)
    return { kind: "error", message: `too many env entries (${n} > ${MAX_ENV_ENTRIES})` };
  let o = 8;
  const env: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    if (!need(o + 4)) return { kind: "incomplete", need: o + 4 };
    const len = buf.readUInt32BE(o);
    if (len > MAX_ENV_ENTRY) return { kind: "error", message: `env entry ${i} too long (${len} bytes)` };
    o += 4;
    if (!need(o + len)) return { kind: "incomplete", need: o + len };
    const entry = buf.toString("utf8", o, o + len);
    o += len;
    const eq = entry.indexOf("=");
    if (eq <= 0) return { kind: "error", message: `env entry ${i} is not NAME=VALUE` };
    const name = entry.slice(0, eq);
    if (!CNI_NAME.test(name)) {
      return {
        kind: "error",
        message: `env variable ${JSON.stringify(name.slice(0, 64))} is not a CNI_* variable`,
      };
    }
    env[name] = entry.slice(eq + 1);
  }
  if (!need(o + 4)) return { kind: "incomplete", need: o + 4 };
  const slen = buf.readUInt32BE(o);
  if (slen > MAX_STDIN) return { kind: "error", message: `stdin too long (${slen} > ${MAX_STDIN} bytes)` };
  o += 4;
  if (!need(o + slen)) return { kind: "incomplete", need: o + slen };
  const stdin = Buffer.from(buf.subarray(o, o + slen));
  o += slen;
  const checked = shimEnvSchema.safeParse(env);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    return {
      kind: "error",
      message: `env ${issue?.path.map(String).join(".") ?? ""}: ${issue?.message ?? "invalid"}`,
    };
  }
  return { kind: "frame", request: { env: checked.data, stdin }, length: o };
}

/** Encode a request (the shim's side; used by tests and benchmarks). */
export function encodeRequest(req: ShimRequest): Buffer {
  const entries = Object.entries(req.env).map(([k, v]) => Buffer.from(`${k}=${v}`, "utf8"));
  const parts: Buffer[] = [MAGIC, u32(entries.length)];
  for (const e of entries) parts.push(u32(e.length), e);
  parts.push(u32(req.stdin.length), req.stdin);
  return Buffer.concat(parts);
}

/** Encode a reply frame. */
export function encodeReply(exitCode: number, stdout: string | Buffer): Buffer {
  const body = typeof stdout === "string" ? Buffer.from(stdout, "utf8") : stdout;
  return Buffer.concat([MAGIC, u32(exitCode), u32(body.length), body]);
}

/** Decode a reply frame (tests, benchmarks). */
export function decodeReply(buf: Buffer): { exitCode: number; stdout: string } | undefined {
  if (buf.length < 12 || !buf.subarray(0, 4).equals(MAGIC)) return undefined;
  const len = buf.readUInt32BE(8);
  if (buf.length < 12 + len) return undefined;
  return { exitCode: buf.readUInt32BE(4), stdout: buf.toString("utf8", 12, 12 + len) };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}
