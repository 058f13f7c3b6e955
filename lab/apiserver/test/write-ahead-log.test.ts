import { describe, expect, it } from "@jest/globals";
import { crc32 } from "node:zlib";
import { decodeLog, encodeRecord } from "../write-ahead-log.js";
import type { JournalRecord } from "../object-store.js";

const put = (rv: number, name: string): JournalRecord => ({
  op: "put",
  rv,
  key: "/pods",
  json: JSON.stringify({
    metadata: { name, namespace: "ns", resourceVersion: String(rv) },
    spec: { x: "é" },
  }),
});
const del: JournalRecord = { op: "del", rv: 4, key: "/pods", namespace: "ns", name: "a" };

const enc = (...rs: JournalRecord[]): Buffer => Buffer.from(rs.map(encodeRecord).join(""), "utf8");

describe("write-ahead log records", () => {
  it("round-trips puts and deletes, in order", () => {
    const d = decodeLog(enc(put(2, "a"), put(3, "b"), del));
    expect(d.records).toEqual([put(2, "a"), put(3, "b"), del]);
    expect(d.droppedBytes).toBe(0);
  });

  it("an empty log is no records and nothing dropped", () => {
    expect(decodeLog(Buffer.alloc(0))).toEqual({ records: [], goodBytes: 0, droppedBytes: 0 });
  });

  it("a torn last record (no newline) is dropped; the good prefix is kept", () => {
    const good = enc(put(2, "a"), put(3, "b"));
    const torn = enc(put(4, "c")).subarray(0, 30);
    const d = decodeLog(Buffer.concat([good, torn]));
    expect(d.records.map((r) => r.rv)).toEqual([2, 3]);
    expect(d.goodBytes).toBe(good.length);
    expect(d.droppedBytes).toBe(30);
  });

  it("a whole line whose checksum does not match ends the log (and what follows is not trusted)", () => {
    const a = enc(put(2, "a"));
    const bad = Buffer.from(encodeRecord(put(3, "b")).replace('"b"', '"B"'));
    const d = decodeLog(Buffer.concat([a, bad, enc(put(4, "c"))]));
    expect(d.records.map((r) => r.rv)).toEqual([2]);
    expect(d.goodBytes).toBe(a.length);
  });

  it("zeroes left by a crash after the file grew are a torn tail, not records", () => {
    const a = enc(put(2, "a"));
    const d = decodeLog(Buffer.concat([a, Buffer.alloc(512), Buffer.from("\n")]));
    expect(d.records).toHaveLength(1);
    expect(d.droppedBytes).toBe(513);
  });

  it("a valid checksum over a body that is not a record is refused", () => {
    const body = '{"op":"nope","rv":1,"key":"/pods"}';
    const line = `${crc32(body).toString(16).padStart(8, "0")} ${body}\n`;
    expect(decodeLog(Buffer.from(line)).records).toEqual([]);
  });
});
