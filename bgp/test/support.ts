/**
 * What the speaker tests share: polling for a condition, a configuration's
 * problems, speakers stopped after each test, and a logger that records.
 */
import { afterEach } from "@jest/globals";
import { pino, type Logger } from "pino";
import { ConfigError, parseConfig } from "../config.js";
import type { Speaker } from "../speaker.js";

/** Polls `f` every 20 ms until it is true; fails the test after `ms`. */
export async function until(f: () => boolean, ms = 10000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The problems parseConfig reports for `text` ([] when it parses). */
export function configProblems(text: string): string[] {
  try {
    parseConfig(text);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

/** A list of speakers the calling test file fills; every one is stopped after each test. */
export function speakersStoppedAfterEach(): Speaker[] {
  const speakers: Speaker[] = [];
  afterEach(async () => {
    await Promise.all(speakers.splice(0).map((s) => s.stop()));
  });
  return speakers;
}

/**
 * A debug-level logger for tests that check what a speaker logged: `field`
 * of every record logged with message `msg` is appended to `into` (e.g. the
 * delayMs of each "automatic restart scheduled").
 */
export function recordingLogger<T>(msg: string, field: string, into: T[]): Logger {
  return pino(
    { level: "debug" },
    {
      write: (line: string) => {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (o["msg"] === msg) into.push(o[field] as T);
      },
    },
  );
}
