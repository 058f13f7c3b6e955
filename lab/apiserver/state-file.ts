/**
 * The snapshot half of the lab API server's persistence (persistence.ts):
 * the whole store as one JSON file, written atomically and durably (temp
 * file + fsync + rename + fsync of the directory, so a crash leaves either
 * the old snapshot or the new one, never a torn or empty file) and read at
 * start. The resourceVersion carries over so clients' resourceVersions stay
 * meaningful (older ones get 410, as after an etcd compaction).
 */
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";

export const STATE_FILE = "apiserver-state.json";

const StateSchema = z.object({
  version: z.literal(1),
  resourceVersion: z.number().int().nonnegative(),
  objects: z.record(z.string(), z.array(z.looseObject({ metadata: z.looseObject({}) }))),
});

export type State = z.infer<typeof StateSchema>;

export async function readState(dir: string): Promise<State | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const parsed = StateSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(`${join(dir, STATE_FILE)}: not a valid API server state: ${parsed.error.message}`);
  return parsed.data;
}

/** fsync of a directory makes a rename in it durable (POSIX leaves it to the file system otherwise). */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

export async function writeState(dir: string, state: State): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, STATE_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(JSON.stringify(state));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncDir(dir);
}
