// Helpers to write test messages as hex from the RFC layouts, independently
// of the encoder under test. Spaces in hex strings are ignored.

export const MARKER = "ff".repeat(16);

export function clean(hex: string): string {
  return hex.replace(/\s+/g, "").toLowerCase();
}

export function hexLen(hex: string, bytes = 2): string {
  return (clean(hex).length / 2).toString(16).padStart(bytes * 2, "0");
}

/** A whole message: marker, length, type, body. */
export function msg(type: number, body: string): string {
  const b = clean(body);
  return MARKER + (19 + b.length / 2).toString(16).padStart(4, "0") + type.toString(16).padStart(2, "0") + b;
}

/** One path attribute: flags, type, length (2 octets if flags has Extended Length), value. */
export function attr(flags: number, type: number, value: string): string {
  const v = clean(value);
  const ext = (flags & 0x10) !== 0;
  return (
    flags.toString(16).padStart(2, "0") + type.toString(16).padStart(2, "0") + hexLen(v, ext ? 2 : 1) + v
  );
}

/** An UPDATE: withdrawn routes, path attributes, NLRI (each hex). */
export function update(withdrawn: string, attrs: string, nlri: string): string {
  const w = clean(withdrawn);
  const a = clean(attrs);
  return msg(2, hexLen(w) + w + hexLen(a) + a + clean(nlri));
}

export function buf(hex: string): Buffer {
  return Buffer.from(clean(hex), "hex");
}
