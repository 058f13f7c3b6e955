#!/usr/bin/env node
/**
 * Entry point of the lab's kubelet stand-in. Started by `trellisctl lab up`
 * inside the node's network namespace:
 *   node dist/lab/kubelet/main.js --node-name N --node-ip IP [--node-ip IP6]
 *     --kubeconfig K --node-dir D --netns-prefix P [--cni-path DIR]...
 * Logs pino JSON to stderr (the lab points stderr at the node's kubelet.log).
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { nodeLayout } from "../lab-layout.js";
import { Kubelet } from "./kubelet.js";
import { PodStateStore } from "./pod-state.js";

const USAGE =
  "usage: kubelet --node-name N --node-ip IP [--node-ip IP]... --kubeconfig FILE --node-dir DIR --netns-prefix P [--cni-path DIR]...";

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        "node-name": { type: "string" },
        "node-ip": { type: "string", multiple: true },
        kubeconfig: { type: "string" },
        "node-dir": { type: "string" },
        "netns-prefix": { type: "string" },
        "cni-path": { type: "string", multiple: true },
        "log-level": { type: "string", default: "info" },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const nodeName = values["node-name"];
  const kubeconfig = values.kubeconfig;
  const nodeDir = values["node-dir"];
  const prefix = values["netns-prefix"];
  if (nodeName === undefined || kubeconfig === undefined || nodeDir === undefined || prefix === undefined) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const layout = nodeLayout(nodeDir);
  const log = pino(
    { level: values["log-level"], base: { component: "lab-kubelet", node: nodeName } },
    pino.destination(2),
  );
  const kubelet = new Kubelet({
    nodeName,
    nodeAddresses: values["node-ip"] ?? [],
    kubeconfig,
    log,
    sandbox: {
      netnsPrefix: prefix,
      cniConfDir: layout.cniConfDir,
      cniCacheDir: layout.cniCacheDir,
      cniPath: values["cni-path"] ?? [layout.cniBinDir, "/usr/lib/cni"],
      store: new PodStateStore(layout.podsDir),
    },
  });
  // SIGTERM stops watching but leaves the sandboxes: pods outlive a kubelet
  // restart, and `lab down` sweeps what is left.
  const shutdown = (): void => {
    log.info("stopping");
    void kubelet.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  log.info({ kubeconfig, nodeDir }, "starting");
  kubelet.start().catch((e: unknown) => {
    log.fatal({ err: (e as Error).message }, "kubelet failed");
    process.exit(1);
  });
}

main();
