/**
 * Starts `prober.js` inside a pod's network namespace and sends it
 * requests; answers carry times on the clock both share (`clockMs`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { commandInNetns } from "../../../lab/netns.js";
import type { ProbeReply, ProbeRequest } from "./probe-verdict.js";

const PROBER = fileURLToPath(new URL("./prober.js", import.meta.url));

export type ProbeSpec = Omit<ProbeRequest, "id">;

export class ProbeClient {
  private next = 1;
  private readonly waiting = new Map<number, (r: ProbeReply) => void>();
  private readonly proc: ChildProcess;

  constructor(readonly netns: string) {
    const [cmd, args] = commandInNetns(netns, [process.execPath, PROBER]);
    this.proc = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
    if (this.proc.stdout)
      createInterface({ input: this.proc.stdout }).on("line", (l) => {
        const r = JSON.parse(l) as ProbeReply;
        this.waiting.get(r.id)?.(r);
        this.waiting.delete(r.id);
      });
    this.proc.on("exit", () => {
      // Whoever still waits learns it now rather than at its own deadline.
      for (const [id, f] of this.waiting) f({ id, ok: false, at: 0, attempts: 0 });
      this.waiting.clear();
    });
  }

  probe(spec: ProbeSpec): Promise<ProbeReply> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.proc.stdin?.write(JSON.stringify({ ...spec, id }) + "\n");
    });
  }

  close(): void {
    this.proc.stdin?.end();
  }
}
