import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { NftSession } from "../nft-session.js";
import { requireExecutable, requireRoot } from "../../../test/support/require.js";

const NETNS = `tFses${process.pid % 10000}`;

const el = (set: string, ip: string) => ({
  nftables: [{ add: { element: { family: "inet", table: "tfs", name: set, elem: [ip] } } }],
});
const list = (): string =>
  execFileSync("nsenter", [
    `--net=/var/run/netns/${NETNS}`,
    "--",
    "nft",
    "list",
    "set",
    "inet",
    "tfs",
    "s",
  ]).toString();

describe("NftSession on the real nft", () => {
  let s: NftSession | undefined;
  const run = (doc: object): Promise<void> => (s as NftSession).run(JSON.stringify(doc));
  beforeAll(() => {
    requireRoot("NftSession on the real nft");
    requireExecutable("/usr/sbin/nft", "nftables");
    execFileSync("ip", ["netns", "add", NETNS]);
    execFileSync("nsenter", [`--net=/var/run/netns/${NETNS}`, "--", "nft", "-f", "-"], {
      input: "table inet tfs { set s { type ipv4_addr; flags interval; }; }\n",
    });
    s = new NftSession({
      argv: ["nsenter", `--net=/var/run/netns/${NETNS}`, "--", "nft", "-j", "-i"],
      maxTransactions: 3,
    });
  });
  afterAll(() => {
    if (s === undefined) return;
    s.close();
    execFileSync("ip", ["netns", "del", NETNS]);
  });

  it("applies each document, in order, before it resolves", async () => {
    await Promise.all([run(el("s", "10.1.0.1")), run(el("s", "10.1.0.2"))]);
    expect(list()).toMatch(/10\.1\.0\.1, 10\.1\.0\.2/);
  });

  it("rejects a transaction the kernel refuses, all or nothing, and goes on", async () => {
    const bad = {
      nftables: [...el("s", "10.1.0.3").nftables, ...el("no-such-set", "10.1.0.4").nftables],
    };
    await expect(run(bad)).rejects.toThrow(/nft rejected the transaction: .*No such file/);
    expect(list()).not.toContain("10.1.0.3");
    await run(el("s", "10.1.0.5"));
    expect(list()).toContain("10.1.0.5");
  });

  it("replaces its process after maxTransactions and when nft dies", async () => {
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await run(el("s", "10.1.0.10"));
    const first = s?.pid as number;
    for (let i = 11; i < 15; i++) await run(el("s", `10.1.0.${i}`));
    expect(list()).toContain("10.1.0.14");
    const second = s?.pid as number;
    expect(second).not.toBe(first);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(first)).toBe(false);
    // nft killed behind its back: the next transaction starts a new one.
    process.kill(second);
    await new Promise((r) => setTimeout(r, 100));
    await run(el("s", "10.1.0.20"));
    expect(list()).toContain("10.1.0.20");
    expect(s?.pid).not.toBe(second);
  });

  it("close ends the process and leaves no history file behind", async () => {
    const pid = s?.pid as number;
    // libedit's history has nowhere to go: $HOME/.nft.history cannot exist.
    expect(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")).toContain("HOME=/dev/null");
    s?.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(run(el("s", "10.1.0.30"))).rejects.toThrow(/closed/);
    expect(s?.pid).toBeUndefined();
  });
});
