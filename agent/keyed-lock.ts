/**
 * One operation at a time per key (here: per host veth name). ADD, DEL and
 * GC read a veth's owner from the kernel and then act on it by name; two of
 * them on the same name (a pod's new sandbox and its old one's late DEL)
 * must not interleave between the read and the act. Different keys run in
 * parallel; the agent is the only writer of its node's `trl*` veths.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      // The last holder leaves no entry behind (one per pod name would grow forever).
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with an operation running or queued (tests). */
  get size(): number {
    return this.tails.size;
  }
}
