/**
 * What the speaker tests share: polling for a condition, a configuration's
 * problems, and speakers stopped after each test.
 */
import { afterEach } from "@jest/globals";
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
