/**
 * What the kubelet stand-in remembers per pod sandbox, on disk under the
 * node's `pods/` dir, so that a restarted kubelet can tear down sandboxes of
 * pods deleted while it was away.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export const podStateSchema = z.object({
  uid: z.string(),
  namespace: z.string(),
  name: z.string(),
  containerId: z.string(),
  netns: z.string(),
  ifName: z.string(),
  ips: z.array(z.string()),
  ports: z.array(z.number().int()),
  listenerPids: z.array(z.number().int()),
  capabilityArgs: z.record(z.string(), z.unknown()),
});
export type PodState = z.infer<typeof podStateSchema>;

export class PodStateStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  path(uid: string): string {
    return join(this.dir, `${uid}.json`);
  }

  logPath(uid: string): string {
    return join(this.dir, `${uid}.log`);
  }

  save(s: PodState): void {
    writeFileSync(this.path(s.uid), JSON.stringify(s, null, 2) + "\n");
  }

  remove(uid: string): void {
    rmSync(this.path(uid), { force: true });
    rmSync(this.logPath(uid), { force: true });
  }

  all(): PodState[] {
    const out: PodState[] = [];
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith(".json")) continue;
      try {
        const parsed = podStateSchema.safeParse(JSON.parse(readFileSync(join(this.dir, f), "utf8")));
        if (parsed.success) out.push(parsed.data);
      } catch {
        // a torn write from a crash: ignored, its netns is swept by prefix at lab down
      }
    }
    return out;
  }
}
