// The shim framing codec: round trip, incremental decoding, and bounds.
import { describe, expect, it } from "@jest/globals";
import { decodeReply, decodeRequest, encodeReply, encodeRequest, MAX_STDIN } from "../frame.js";

const req = {
  env: { CNI_COMMAND: "ADD", CNI_ARGS: "A=b=c;D=é" },
  stdin: Buffer.from('{"cniVersion":"1.1.0"}'),
};

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

describe("request frames", () => {
  it("round-trip", () => {
    const buf = encodeRequest(req);
    const r = decodeRequest(buf);
    expect(r).toEqual({ kind: "frame", request: req, length: buf.length });
  });

  it("every strict prefix is incomplete, never an error", () => {
    const buf = encodeRequest(req);
    for (let i = 0; i < buf.length; i++) {
      const r = decodeRequest(buf.subarray(0, i));
      expect(r.kind).toBe("incomplete");
      // `need` never overshoots the frame and always asks for more than we have.
      if (r.kind === "incomplete") {
        expect(r.need).toBeGreaterThan(i);
        expect(r.need).toBeLessThanOrEqual(buf.length);
      }
    }
  });

  it.each([
    ["bad magic", Buffer.from("GET / HTTP/1.1\r\n"), /magic/],
    ["bad magic prefix", Buffer.from("X"), /magic/],
    ["too many env entries", Buffer.concat([Buffer.from("TRL1"), u32(65)]), /too many env/],
    ["env entry too long", Buffer.concat([Buffer.from("TRL1"), u32(1), u32(1 << 20)]), /too long/],
    [
      "env entry without =",
      Buffer.concat([Buffer.from("TRL1"), u32(1), u32(3), Buffer.from("ABC"), u32(0)]),
      /NAME=VALUE/,
    ],
    [
      "non-CNI variable",
      Buffer.concat([Buffer.from("TRL1"), u32(1), u32(6), Buffer.from("PATH=x"), u32(0)]),
      /CNI_/,
    ],
    ["stdin too long", Buffer.concat([Buffer.from("TRL1"), u32(0), u32(MAX_STDIN + 1)]), /stdin too long/],
  ])("%s is an error before buffering", (_n, buf, msg) => {
    const r = decodeRequest(buf);
    expect(r.kind).toBe("error");
    if (r.kind === "error") expect(r.message).toMatch(msg);
  });
});

describe("reply frames", () => {
  it("round-trip", () => {
    expect(decodeReply(encodeReply(1, '{"code":7}'))).toEqual({ exitCode: 1, stdout: '{"code":7}' });
    expect(decodeReply(encodeReply(0, ""))).toEqual({ exitCode: 0, stdout: "" });
  });
});
