// Prefix -> destination id, without a string or an object per prefix (issue
// 12: at 1M prefixes a `Map<string, Dest>` cost 34 MB of key strings, the Map's
// backing store and a string hash per lookup). The RIB's per-destination state
// lives in columns indexed by the dense id this table hands out (dest-table.ts).
//
// IPv4, the bulk of any full table, is packed: a /len prefix of address A is
// the number A * 64 + len (below 2^38, exact in a double), found through an
// open-addressing hash (linear probing, backward-shift deletion, so no
// tombstones) over typed arrays. IPv6 keeps a plain Map from the canonical
// string (a slower path: v6 tables are a tenth of v4 ones in the DFZ, and a
// v6 key would need 136 bits).
//
// Input prefixes are canonical strings (bgp/wire/types.ts `Prefix`); the v4
// string is parsed by character, and `prefix(id)` rebuilds the same text. Any
// text that would not come back identical (a leading zero, say) takes the
// string path, so the table never changes a key.

/** Packed IPv4 key of a canonical "a.b.c.d/len", or -1 if the text is not one. */
export function packIpv4Prefix(p: string): number {
  let addr = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const c = p.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // a leading zero is not canonical
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else if (c === 46 /* . */ || c === 47 /* / */) {
      if (digits === 0) return -1;
      addr = addr * 256 + octet;
      octet = 0;
      digits = 0;
      if (c === 46) {
        if (++dots > 3) return -1;
        continue;
      }
      if (dots !== 3) return -1;
      // the length after the slash
      let len = 0;
      let ld = 0;
      for (let j = i + 1; j < n; j++) {
        const d = p.charCodeAt(j);
        if (d < 48 || d > 57 || ++ld > 2 || (ld === 2 && len === 0)) return -1;
        len = len * 10 + (d - 48);
      }
      if (ld === 0 || len > 32) return -1;
      return addr * 64 + len;
    } else return -1;
  }
  return -1;
}

/** The text of a packed IPv4 key (the inverse of packIpv4Prefix). */
export function formatIpv4Key(key: number): string {
  const len = key % 64;
  const a = (key - len) / 64;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${len}`;
}

/** 32-bit mix of a packed key (murmur3 finalizer over both halves). */
function hashKey(key: number): number {
  let h = Math.imul((key % 4294967296) | 0, 0x9e3779b1) ^ Math.floor(key / 4294967296);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** keys[] marker for an id kept by its text (IPv6, or v4 text that is not canonical) */
const KEY_TEXT = -1;
/** keys[] marker for a free id */
const KEY_FREE = -2;

export class PrefixTable {
  /** id -> packed v4 key, KEY_TEXT or KEY_FREE */
  private keys = new Float64Array(1024).fill(KEY_FREE);
  /** open-addressing buckets: id + 1, 0 = empty; always at most half full */
  private buckets = new Int32Array(2048);
  private mask = 2047;
  private v4count = 0;
  /** IPv6 (and any non-packable text): text -> id and back */
  private readonly byText = new Map<string, number>();
  private readonly text = new Map<number, string>();
  /** ids freed for reuse (LIFO) */
  private readonly free: number[] = [];
  /** ids handed out so far (the columns' high-water mark) */
  private top = 0;

  get size(): number {
    return this.v4count + this.byText.size;
  }

  /** one past the highest id ever handed out: iterate 0..end and skip !live(id) */
  get end(): number {
    return this.top;
  }

  /** current length of the id space; columns indexed by id must be at least this long */
  get capacity(): number {
    return this.keys.length;
  }

  live(id: number): boolean {
    return this.keys[id]! !== KEY_FREE;
  }

  /** The id of a prefix, or -1. */
  get(prefix: string): number {
    const key = packIpv4Prefix(prefix);
    if (key < 0) return this.byText.get(prefix) ?? -1;
    const keys = this.keys;
    const b = this.buckets;
    for (let i = hashKey(key) & this.mask; ; i = (i + 1) & this.mask) {
      const e = b[i]!;
      if (e === 0) return -1;
      if (keys[e - 1] === key) return e - 1;
    }
  }

  /** The id of a prefix, allocated if new (check capacity afterwards). */
  intern(prefix: string): number {
    const key = packIpv4Prefix(prefix);
    if (key < 0) {
      let id = this.byText.get(prefix);
      if (id === undefined) {
        id = this.allocate(KEY_TEXT);
        this.byText.set(prefix, id);
        this.text.set(id, prefix);
      }
      return id;
    }
    const keys = this.keys;
    const b = this.buckets;
    let i = hashKey(key) & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const e = b[i]!;
      if (e === 0) break;
      if (keys[e - 1] === key) return e - 1;
    }
    const id = this.allocate(key);
    b[i] = id + 1;
    if (++this.v4count * 2 > this.mask) this.rehash((this.mask + 1) * 2);
    return id;
  }

  /** The canonical text of a live id. */
  prefix(id: number): string {
    const key = this.keys[id]!;
    return key === KEY_TEXT ? this.text.get(id)! : formatIpv4Key(key);
  }

  /** Forget an id; it may be handed out again. */
  delete(id: number): void {
    const key = this.keys[id]!;
    if (key === KEY_FREE) return;
    this.keys[id] = KEY_FREE;
    this.free.push(id);
    if (key === KEY_TEXT) {
      this.byText.delete(this.text.get(id)!);
      this.text.delete(id);
      return;
    }
    this.v4count--;
    const keys = this.keys;
    const b = this.buckets;
    const mask = this.mask;
    let i = hashKey(key) & mask;
    while (b[i]! !== id + 1) i = (i + 1) & mask;
    // Backward-shift deletion: pull later entries of the probe run into the
    // hole when their home bucket does not lie strictly between hole and them.
    let hole = i;
    for (let j = (i + 1) & mask; b[j]! !== 0; j = (j + 1) & mask) {
      const home = hashKey(keys[b[j]! - 1]!) & mask;
      const between = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (between) continue;
      b[hole] = b[j]!;
      hole = j;
    }
    b[hole] = 0;
  }

  private allocate(key: number): number {
    const id = this.free.length > 0 ? this.free.pop()! : this.top++;
    if (id >= this.keys.length) {
      const keys = new Float64Array(this.keys.length * 2).fill(KEY_FREE);
      keys.set(this.keys);
      this.keys = keys;
    }
    this.keys[id] = key;
    return id;
  }

  private rehash(size: number): void {
    const b = new Int32Array(size);
    const mask = size - 1;
    const keys = this.keys;
    for (let id = 0; id < this.top; id++) {
      const key = keys[id]!;
      if (key < 0) continue;
      let i = hashKey(key) & mask;
      while (b[i]! !== 0) i = (i + 1) & mask;
      b[i] = id + 1;
    }
    this.buckets = b;
    this.mask = mask;
  }
}
