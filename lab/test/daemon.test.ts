// lab/daemon.ts: the helpers every lab module and the tests share (a log's tail for an error
// message, a process's command line, the bounded wait for an HTTP endpoint), on real files,
// processes and a loopback server.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandLine, tail, waitHttpOk } from "../daemon.js";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "trellis-daemon-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tail", () => {
  it("the last lines of a log on one line; a missing log says so", () => {
    const log = join(dir, "x.log");
    writeFileSync(log, "one\ntwo\nthree\nfour\nfive\nsix\n");
    expect(tail(log)).toBe("two | three | four | five | six");
    expect(tail(log, 2)).toBe("five | six");
    expect(tail(join(dir, "absent.log"))).toBe("(no log)");
  });
});

describe("commandLine", () => {
  it("a live process's argv from /proc, without the trailing empty field; a gone one is empty", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      expect(commandLine(child.pid as number)).toEqual(["sleep", "30"]);
    } finally {
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    }
    expect(commandLine(child.pid as number)).toEqual([]);
  });
});

describe("waitHttpOk", () => {
  let server: Server;
  let url = "";
  let calls = 0;
  beforeAll(async () => {
    // 503 for the first two requests, then 200.
    server = createServer((_req, res) => {
      calls++;
      res.writeHead(calls <= 2 ? 503 : 200).end(calls <= 2 ? "starting" : "ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("returns once the endpoint answers 2xx", async () => {
    await waitHttpOk(url, 10_000);
    expect(calls).toBe(3);
  });

  it("gives up after the timeout, naming the URL and its last answer", async () => {
    const down = `http://127.0.0.1:1/readyz`;
    await expect(waitHttpOk(down, 300)).rejects.toThrow(`${down} not ready after 0 s (${down}: `);
  });

  it("fails at once when the watched daemon exits, with its log's tail", async () => {
    const log = join(dir, "d.log");
    writeFileSync(log, "listening\nfatal: no such flag\n");
    const child = spawn("true", [], { stdio: "ignore" });
    await new Promise((r) => child.once("exit", r));
    const started = Date.now();
    await expect(
      waitHttpOk("http://127.0.0.1:1/readyz", 30_000, { pid: child.pid as number, log, what: "etcd" }),
    ).rejects.toThrow("etcd exited: listening | fatal: no such flag");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
