#!/usr/bin/env node
/**
 * Entry point of the kubelet egress proxy (kubelet-egress.ts), started by
 * the real control plane of a lab with real nodes:
 *   node dist/lab/controlplane/kubelet-egress-main.js --socket S --lab-dir D
 * One line per tunnel on stderr (the lab points it at DIR/controlplane/kubelet-egress.log).
 */
import { parseArgs } from "node:util";
import { serveKubeletEgress } from "./kubelet-egress.js";

const USAGE = "usage: kubelet-egress-main --socket FILE --lab-dir DIR";

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: { socket: { type: "string" }, "lab-dir": { type: "string" } },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.socket === undefined || values["lab-dir"] === undefined) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const server = serveKubeletEgress(values.socket, values["lab-dir"], (l) =>
    process.stderr.write(`${new Date().toISOString()} ${l}\n`),
  );
  server.on("error", (e) => {
    process.stderr.write(`kubelet egress proxy: ${e.message}\n`);
    process.exit(1);
  });
  for (const sig of ["SIGTERM", "SIGINT"] as const)
    process.on(sig, () => server.close(() => process.exit(0)));
}

main();
