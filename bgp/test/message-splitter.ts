/**
 * For tests that play a raw BGP peer over a socket: turns a byte stream into
 * whole decoded messages (framing first, RFC 4271 §4.1, then decoding), so
 * each test does not carry its own reassembly loop.
 */
import { decodeMessage, frame, type BgpMessage, type CodecOptions } from "../wire/index.js";

/** A `data` listener that calls `onMessage` for every complete message, in order. */
export function messageSplitter(
  opts: CodecOptions,
  onMessage: (m: BgpMessage) => void,
  maxLength?: number,
): (d: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (d: Buffer): void => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    for (;;) {
      const f = maxLength === undefined ? frame(buf, 0) : frame(buf, 0, maxLength);
      if (!f) break;
      onMessage(decodeMessage(buf.subarray(0, f.length), opts));
      buf = buf.subarray(f.length);
    }
  };
}
