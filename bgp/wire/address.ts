// IPv4/IPv6 addresses between wire octets and canonical text (RFC 5952 for
// IPv6: lower case, leading zeros dropped, the longest run of two or more zero
// groups compressed to "::", the first such run on a tie).

// Scratch space for IPv6 formatting/parsing: the codec is synchronous, so one
// module-level array is never shared between two calls in flight.
const groups = new Uint16Array(8);

export function formatIpv4(buf: Buffer, off: number): string {
  return `${buf.readUInt8(off)}.${buf.readUInt8(off + 1)}.${buf.readUInt8(off + 2)}.${buf.readUInt8(off + 3)}`;
}

/** Format 8 groups already placed in `groups`. */
function formatGroups(): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] === 0) {
      let j = i;
      while (j < 8 && groups[j] === 0) j++;
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    } else i++;
  }
  let s = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += "::";
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(":")) s += ":";
    s += (groups[i] as number).toString(16);
  }
  return s;
}

export function formatIpv6(buf: Buffer, off: number): string {
  for (let i = 0; i < 8; i++) groups[i] = buf.readUInt16BE(off + 2 * i);
  return formatGroups();
}

/** Parse dotted-quad IPv4 into a 32-bit unsigned number, or -1 if malformed. */
export function parseIpv4(s: string, start = 0, end = s.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      digits++;
      if (digits > 3 || part > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return -1;
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + part;
}

/** Parse IPv6 text into `out` (16 octets at off). Returns false if malformed. */
export function parseIpv6Into(s: string, out: Buffer, off: number, start = 0, end = s.length): boolean {
  const text = s.slice(start, end);
  const dbl = text.indexOf("::");
  if (dbl !== -1 && text.indexOf("::", dbl + 1) !== -1) return false;
  const head = dbl === -1 ? text : text.slice(0, dbl);
  const tail = dbl === -1 ? "" : text.slice(dbl + 2);
  const parts = (p: string): number[] | null => {
    if (p === "") return [];
    const res: number[] = [];
    const items = p.split(":");
    for (let k = 0; k < items.length; k++) {
      const item = items[k] as string;
      if (item.includes(".")) {
        // Embedded IPv4 (e.g. ::ffff:192.0.2.1) only as the last item.
        if (k !== items.length - 1) return null;
        const v4 = parseIpv4(item);
        if (v4 < 0) return null;
        res.push(Math.floor(v4 / 65536), v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return null;
        res.push(parseInt(item, 16));
      }
    }
    return res;
  };
  const h = parts(head);
  const t = parts(tail);
  if (h === null || t === null) return false;
  if (dbl === -1 ? h.length !== 8 : h.length + t.length > 7) return false;
  const all = dbl === -1 ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(all[i] as number, off + 2 * i);
  return true;
}

/** Write an IPv4 address; throws TypeError on malformed text (a caller bug, not peer input). */
export function writeIpv4(s: string, buf: Buffer, off: number): void {
  const v = parseIpv4(s);
  if (v < 0) throw new TypeError(`invalid IPv4 address: ${s}`);
  buf.writeUInt32BE(v, off);
}

export function writeIpv6(s: string, buf: Buffer, off: number): void {
  if (!parseIpv6Into(s, buf, off)) throw new TypeError(`invalid IPv6 address: ${s}`);
}

export function isIpv4(s: string): boolean {
  return parseIpv4(s) >= 0;
}

export function isIpv6(s: string): boolean {
  return parseIpv6Into(s, scratch16, 0);
}
const scratch16 = Buffer.alloc(16);

/** Canonical text of an IPv6 address given in any valid form. */
export function canonicalIpv6(s: string): string {
  if (!parseIpv6Into(s, scratch16, 0)) throw new TypeError(`invalid IPv6 address: ${s}`);
  return formatIpv6(scratch16, 0);
}
