// The journal of takes (ipam-journal.ts) on a real file: what is appended is
// read back; a rewrite keeps only what it is given plus every append made
// while it was under way (none is lost to its rename); a torn last line is
// skipped.
import { describe, expect, it } from "@jest/globals";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IpamJournal } from "../ipam-journal.js";
import type { Take } from "../reservations.js";

const take = (ord: number): Take => ({
  block: "10-9-0-0-28",
  ordinal: ord,
  allocation: { ordinal: ord, handle: `c${ord}.eth0` },
});

function withJournal(fn: (j: IpamJournal) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-journal-"));
    const j = new IpamJournal(join(dir, "sub", "ipam-journal.n1"));
    try {
      await fn(j);
    } finally {
      j.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe("IpamJournal", () => {
  it(
    "reads back what was appended, in order; no file yet is an empty journal",
    withJournal(async (j) => {
      expect(j.read()).toEqual({ takes: [], skipped: 0 });
      j.append([take(1), take(2)]);
      j.append([take(3)]);
      expect(j.read().takes.map((t) => t.ordinal)).toEqual([1, 2, 3]);
    }),
  );

  it(
    "a rewrite keeps what it is given, and every append made while it was under way",
    withJournal(async (j) => {
      j.append([take(1), take(2)]);
      const p = j.rewrite(() => [take(2)]);
      // The rewrite has taken its snapshot and waits for the disk: appends now must survive its rename.
      j.append([take(5)]);
      await p;
      j.append([take(6)]);
      expect(j.read().takes.map((t) => t.ordinal)).toEqual([2, 5, 6]);
    }),
  );

  it(
    "a torn last line (a crash mid-write) is skipped and counted",
    withJournal(async (j) => {
      j.append([take(1)]);
      appendFileSync(j.path, '{"block":"10-9-0-0-28","ordinal":2,"allo');
      expect(j.read()).toEqual({ takes: [take(1)], skipped: 1 });
    }),
  );
});
