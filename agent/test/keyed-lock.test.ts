import { describe, expect, it } from "@jest/globals";
import { KeyedLock } from "../keyed-lock.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("KeyedLock", () => {
  it("runs operations on one key one at a time, in arrival order", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const op = (name: string, ms: number) =>
      lock.run("trlA", async () => {
        log.push(`${name}:start`);
        await sleep(ms);
        log.push(`${name}:end`);
        return name;
      });
    expect(await Promise.all([op("add", 30), op("del", 1), op("check", 1)])).toEqual(["add", "del", "check"]);
    expect(log).toEqual(["add:start", "add:end", "del:start", "del:end", "check:start", "check:end"]);
  });

  it("runs different keys in parallel", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    await Promise.all(
      ["trlA", "trlB"].map((k) =>
        lock.run(k, async () => {
          log.push(`${k}:start`);
          await sleep(10);
          log.push(`${k}:end`);
        }),
      ),
    );
    expect(log.slice(0, 2).sort()).toEqual(["trlA:start", "trlB:start"]);
  });

  it("a failed operation releases the key and its error reaches only its caller", async () => {
    const lock = new KeyedLock();
    const failed = lock.run("trlA", () => Promise.reject(new Error("boom")));
    const next = lock.run("trlA", () => Promise.resolve("ok"));
    await expect(failed).rejects.toThrow("boom");
    expect(await next).toBe("ok");
    expect(lock.size).toBe(0);
  });
});
