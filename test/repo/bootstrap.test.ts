// scripts/bootstrap must never stop, disable or kill anything it did not
// start: on a user's router box the BGP daemon running is theirs. Instead it
// keeps package services from starting during its own apt-get install with a
// temporary policy-rc.d (exit 101), removed afterwards whatever happens, and
// never replaces one the machine already has.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireExecutable, requireRoot } from "../support/require.js";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const BOOTSTRAP = join(root, "scripts/bootstrap");

describe("scripts/bootstrap, read as text", () => {
  // The commands, without comments (which may well say what it never does).
  const text = readFileSync(BOOTSTRAP, "utf8")
    .split("\n")
    .map((line) => line.replace(/(^|\s)#.*$/, ""))
    .join("\n");

  it.each([
    ["pkill", /\bpkill\b/],
    ["killall", /\bkillall\b/],
    ["kill", /(^|[;&|(\s])kill\s/m],
    ["systemctl disable/stop/kill/mask", /\bsystemctl\b.*\b(disable|stop|kill|mask)\b/],
    ["service … stop", /\bservice\s+\S+\s+stop\b/],
    ["invoke-rc.d … stop", /\binvoke-rc\.d\b.*\bstop\b/],
  ])("never runs %s", (_n, pattern) => {
    expect(text).not.toMatch(pattern);
  });

  it("forbids service starts with a policy-rc.d that exits 101", () => {
    expect(text).toMatch(/\/usr\/sbin\/policy-rc\.d/);
    expect(text).toMatch(/exit 101/);
  });
});

// The script itself, in a private mount namespace with an empty /usr/sbin (so
// every package looks missing and policy-rc.d is ours to watch), against a
// fake apt-get that records what policy-rc.d answers during the install. Also
// in its own PID namespace with an empty /run: should the script regress to
// killing or stopping daemons, it reaches none of this machine's.

describe("scripts/bootstrap around apt-get install", () => {
  let dir = "";
  let fakeBin = "";
  let copy = "";

  beforeAll(() => {
    requireRoot("running scripts/bootstrap in its own mount and PID namespace");
    requireExecutable("/usr/bin/unshare", "util-linux");
    dir = mkdtempSync(join(tmpdir(), "tRboot-"));
    mkdirSync(join(dir, "repo/scripts"), { recursive: true });
    copy = join(dir, "repo/scripts/bootstrap");
    copyFileSync(BOOTSTRAP, copy);
    chmodSync(copy, 0o755);
    // A linked node_modules is left alone: no npm ci in this test.
    symlinkSync(dir, join(dir, "repo/node_modules"));
    fakeBin = join(dir, "bin");
    mkdirSync(fakeBin);
    writeFileSync(
      join(fakeBin, "apt-get"),
      [
        "#!/bin/bash",
        "[[ $1 == update ]] && exit 0",
        "if [[ -e /usr/sbin/policy-rc.d ]]; then",
        '  /usr/sbin/policy-rc.d bird.service start; echo "during: answer $?" >>"$LOG"',
        "else",
        '  echo "during: absent" >>"$LOG"',
        "fi",
        '[[ ${FAKE_APT:-} == term ]] && kill -TERM "$PPID"',
        "[[ ${FAKE_APT:-} == fail || ${FAKE_APT:-} == term ]] && exit 100",
        "exit 0",
        "",
      ].join("\n"),
    );
    chmodSync(join(fakeBin, "apt-get"), 0o755);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function run(fake: string, pre?: string): { rc: string; after: string; during: string; out: string } {
    const log = join(dir, `log-${fake}-${pre === undefined ? "fresh" : "pre"}`);
    const out = join(dir, "out");
    const script = [
      "/usr/bin/mount -t tmpfs tmpfs /usr/sbin && /usr/bin/mount -t tmpfs tmpfs /run || exit 99",
      'if [[ -n ${PRE:-} ]]; then printf "%s" "$PRE" >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; fi',
      '"$BOOT" >"$OUT" 2>&1; echo "rc=$?"',
      'if [[ -e /usr/sbin/policy-rc.d ]]; then printf "after: "; cat /usr/sbin/policy-rc.d; else echo "after: absent"; fi',
    ].join("\n");
    const r = spawnSync(
      "/usr/bin/unshare",
      ["--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private", "/bin/bash", "-c", script],
      {
        env: {
          PATH: `${fakeBin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
          BOOT: copy,
          OUT: out,
          LOG: log,
          FAKE_APT: fake,
          ...(pre === undefined ? {} : { PRE: pre }),
        },
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    const lines = r.stdout;
    return {
      rc: /rc=(\d+)/.exec(lines)?.[1] ?? `?${r.stderr}`,
      after: lines.slice(lines.indexOf("after: ") + "after: ".length),
      during: existsSync(log) ? readFileSync(log, "utf8").trim() : "(apt-get install not run)",
      out: existsSync(out) ? readFileSync(out, "utf8") : "",
    };
  }

  it("services cannot start during the install, and policy-rc.d is gone after", () => {
    const r = run("ok");
    expect(r).toMatchObject({ rc: "0", during: "during: answer 101", after: "absent\n" });
    expect(r.out).toMatch(/bootstrap: apt-get install /);
  });

  it("a failing apt-get install: bootstrap fails and policy-rc.d is gone", () => {
    const r = run("fail");
    expect(r).toMatchObject({ rc: "100", during: "during: answer 101", after: "absent\n" });
  });

  it("killed (TERM) during the install: policy-rc.d is gone", () => {
    const r = run("term");
    expect(r).toMatchObject({ during: "during: answer 101", after: "absent\n" });
    expect(r.rc).not.toBe("0");
  });

  it("a policy-rc.d the machine already has is used and left exactly as it was", () => {
    const theirs = "#!/bin/sh\n# the owner's policy\nexit 0\n";
    const r = run("ok", theirs);
    expect(r).toMatchObject({ rc: "0", during: "during: answer 0", after: theirs });
    expect(r.out).toMatch(/policy-rc\.d exists: left as it is/);
  });
});
