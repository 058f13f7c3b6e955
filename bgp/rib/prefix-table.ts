// Prefix -> destination id, without a string or an object per prefix (issue
// 12: at 1M prefixes a `Map<string, Dest>` cost 34 MB of key strings, the Map's
// backing store and a string hash per lookup). The RIB's per-destination state
// lives in columns indexed by the dense id this table hands out (dest-table.ts).
//
// IPv4, the bulk of any full table, is packed: the 32-bit address and the
// length, found through an open-addressing hash (quadratic probing over
// blocks of eight buckets, tombstones on delete) whose buckets are Int32
// pairs [address, length << 25 | id + 1]: one cache line per probe, no key
// array to visit (measured: a separate key column doubled the cost of a
// lookup, ~0.6 against ~0.25 µs at 1M). IPv6 keeps a plain Map from the
// canonical string (a slower path: v6 tables are a tenth of v4 ones in the
// DFZ, and a v6 key would need 136 bits).
//
// The wire decoder hands IPv4 prefixes over packed (internV4/getV4, no text);
// other callers give canonical strings (bgp/wire/types.ts `Prefix`): the v4
// string is parsed by character, and `prefix(id)` rebuilds the same text. Any
// text that would not come back identical (a leading zero, say) takes the
// string path, so the table never changes a key.

import { formatIpv4Prefix, parseCanonicalIpv4Prefix } from "../../net/ipv4-packed.js";
import { grownColumn } from "./column.js";

/** Where parseCanonicalIpv4Prefix leaves the address (one buffer, no allocation per call). */
const parsed = new Int32Array(1);

/**
 * Home block of (address, length): eight consecutive networks of one length
 * share a block of eight buckets (one 64-byte cache line), each at its own
 * slot (the network's low three bits), and blocks are scattered by murmur3's
 * finalizer. Tables arrive largely in address order (a peer walks its own
 * table when it sends it), so this costs one cache miss per eight prefixes
 * where a fully mixing hash cost one each (measured at 1M /24s: 0.8 against
 * 0.2 µs per lookup). Not keyed, like the mixing hash it replaces:
 * max-prefix limits what a peer can insert.
 */
function blockOf(addr: number, len: number, blockMask: number): number {
  const n = len === 0 ? 0 : addr >>> (32 - len);
  let h = (n >>> 3) ^ Math.imul(len + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & blockMask;
}

/** The slot of (address, length) inside each block it may occupy. */
function slotOf(addr: number, len: number): number {
  return (len === 0 ? 0 : addr >>> (32 - len)) & 7;
}

/** A bucket's second word after its entry was deleted (valid words are positive). */
const TOMBSTONE = -1;

/** lens[] marker for a free id */
const LEN_FREE = 255;
/** lens[] marker for an id kept by its text (IPv6, or v4 text that is not canonical) */
const LEN_TEXT = 254;
/** ids must fit below the length in a bucket's second word */
const ID_BITS = 25;
const ID_MASK = (1 << ID_BITS) - 1;
export const MAX_DESTINATIONS = ID_MASK - 1;

export class PrefixTable {
  /** id -> IPv4 address (int32 bit pattern) */
  private addrs = new Int32Array(1024);
  /** id -> IPv4 length, LEN_TEXT or LEN_FREE */
  private lens = new Uint8Array(1024).fill(LEN_FREE);
  /**
   * bucket k at [2k, 2k+1]: address, length << 25 | id + 1 (0 = empty,
   * TOMBSTONE = deleted); entries and tombstones together at most half of it
   */
  private buckets = new Int32Array(2 * 2048);
  /** blocks of eight buckets, minus one */
  private blockMask = 2048 / 8 - 1;
  private v4count = 0;
  private tombstones = 0;
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
    return this.lens.length;
  }

  live(id: number): boolean {
    return this.lens[id]! !== LEN_FREE;
  }

  /** The id of a prefix, or -1. */
  get(prefix: string): number {
    const len = parseCanonicalIpv4Prefix(prefix, parsed);
    if (len < 0) return this.byText.get(prefix) ?? -1;
    return this.getV4(parsed[0]!, len);
  }

  /** The id of the IPv4 prefix addr/len (host bits clear, as the wire decoder gives them), or -1. */
  getV4(addr: number, len: number): number {
    const i = this.find(addr, len);
    return i < 0 ? -1 : (this.buckets[2 * i + 1]! & ID_MASK) - 1;
  }

  /** The id of a prefix, allocated if new (check capacity afterwards). */
  intern(prefix: string): number {
    const len = parseCanonicalIpv4Prefix(prefix, parsed);
    if (len < 0) {
      let id = this.byText.get(prefix);
      if (id === undefined) {
        id = this.allocate(0, LEN_TEXT);
        this.byText.set(prefix, id);
        this.text.set(id, prefix);
      }
      return id;
    }
    return this.internV4(parsed[0]!, len);
  }

  /** intern() of the IPv4 prefix addr/len (host bits clear): the same id its text gets. */
  internV4(addr: number, len: number): number {
    const i = this.find(addr, len);
    if (i >= 0) return (this.buckets[2 * i + 1]! & ID_MASK) - 1;
    const id = this.allocate(addr, len);
    if (this.place(this.buckets, this.blockMask, addr, len, id)) this.tombstones--;
    this.v4count++;
    const buckets = (this.blockMask + 1) * 8;
    if ((this.v4count + this.tombstones) * 2 > buckets) {
      // Grow when the entries alone pass a quarter; otherwise the
      // tombstones are what filled it, and a rehash at the same size clears them.
      this.rehash(this.v4count * 4 > buckets ? buckets * 2 : buckets);
    }
    return id;
  }

  /** The canonical text of a live id. */
  prefix(id: number): string {
    const len = this.lens[id]!;
    return len === LEN_TEXT ? this.text.get(id)! : formatIpv4Prefix(this.addrs[id]!, len);
  }

  /** Forget an id; it may be handed out again. */
  delete(id: number): void {
    const len = this.lens[id]!;
    if (len === LEN_FREE) return;
    this.lens[id] = LEN_FREE;
    this.free.push(id);
    if (len === LEN_TEXT) {
      this.byText.delete(this.text.get(id)!);
      this.text.delete(id);
      return;
    }
    this.v4count--;
    // Quadratic probing cannot close a hole by shifting (a later entry of
    // another probe sequence may depend on it): the bucket becomes a
    // tombstone, which lookups pass and insertions reuse.
    const i = this.find(this.addrs[id]!, len);
    this.buckets[2 * i] = 0;
    this.buckets[2 * i + 1] = TOMBSTONE;
    this.tombstones++;
  }

  /**
   * The bucket holding (addr, len), or -1. The probe sequence visits blocks
   * home, home + 1, home + 3, home + 6, ... (triangular steps, which reach
   * every block of a power-of-two table), always at the prefix's own slot.
   * So eight consecutive networks that collide move on together, into one
   * cache line again, and collisions do not pile up into the long runs that
   * linear probing builds from a sorted table (measured at 1M /24s: 3.8
   * extra buckets per insertion and 7.4 per miss with linear probing).
   */
  private find(addr: number, len: number): number {
    const b = this.buckets;
    const blockMask = this.blockMask;
    const slot = slotOf(addr, len);
    const tag = len << ID_BITS;
    for (let blk = blockOf(addr, len, blockMask), step = 1; ; blk = (blk + step++) & blockMask) {
      const i = (blk << 3) | slot;
      const w = b[2 * i + 1]!;
      if (w === 0) return -1;
      if (b[2 * i] === addr && (w & ~ID_MASK) === tag) return i;
    }
  }

  /** Put (addr, len) -> id in the first free bucket of its probe sequence; true if that was a tombstone. */
  private place(b: Int32Array, blockMask: number, addr: number, len: number, id: number): boolean {
    const slot = slotOf(addr, len);
    let blk = blockOf(addr, len, blockMask);
    for (let step = 1; b[2 * ((blk << 3) | slot) + 1]! > 0; step++) blk = (blk + step) & blockMask;
    const i = (blk << 3) | slot;
    const reused = b[2 * i + 1] === TOMBSTONE;
    b[2 * i] = addr;
    b[2 * i + 1] = (len << ID_BITS) | (id + 1);
    return reused;
  }

  private allocate(addr: number, len: number): number {
    const id = this.free.length > 0 ? this.free.pop()! : this.top++;
    if (id > MAX_DESTINATIONS) throw new RangeError(`more than ${MAX_DESTINATIONS} destinations`);
    if (id >= this.lens.length) {
      const lens = new Uint8Array(this.lens.length * 2).fill(LEN_FREE);
      lens.set(this.lens);
      this.lens = lens;
      this.addrs = grownColumn(this.addrs, lens.length);
    }
    this.addrs[id] = addr;
    this.lens[id] = len;
    return id;
  }

  private rehash(size: number): void {
    const b = new Int32Array(2 * size);
    const blockMask = size / 8 - 1;
    for (let id = 0; id < this.top; id++) {
      const len = this.lens[id]!;
      if (len <= 32) this.place(b, blockMask, this.addrs[id]!, len, id);
    }
    this.buckets = b;
    this.blockMask = blockMask;
    this.tombstones = 0;
  }
}
