/** Files of this package the lab starts, located from the compiled module (dist/lab/…). */
import { fileURLToPath } from "node:url";

const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));

export const repoPaths = {
  apiserverMain: here("./apiserver/main.js"),
  kubeletMain: here("./kubelet/main.js"),
  agentMain: here("../agent/bin/trellis-node.js"),
  crdDirs: [here("../../crds/manifests"), here("../../crds/upstream")],
  shim: here("../../cni/shim/trellis"),
  examplePods: here("../../lab/examples/pods.yaml"),
};
