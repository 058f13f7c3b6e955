/** The lab's API server killed and started again: the one place a test restarts it. */
import { restartLabApiserver, stopLabApiserver } from "../../lab/lab-up.js";

/**
 * The lab's API server killed with SIGKILL (no graceful save), `whileDown`
 * run while it is dead, and the server started again with the same arguments,
 * port and state, whichever control plane the lab runs (lab/lab-up.ts
 * stopLabApiserver and restartLabApiserver: kube-apiserver with etcd kept, or
 * the embedded server with its durable state).
 */
export async function restartApiServer(dir: string, whileDown: () => Promise<void>): Promise<void> {
  await stopLabApiserver(dir);
  try {
    await whileDown();
  } finally {
    await restartLabApiserver(dir);
  }
}
