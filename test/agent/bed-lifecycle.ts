/**
 * The jest side of a TestBed, kept out of harness.ts because the CNI
 * benchmark scripts import the harness outside jest: every test file's bed
 * starts its API server and runs the file's own setup before all tests, and
 * removes everything it made (processes, namespaces, files) after them.
 */
import { afterAll, beforeAll } from "@jest/globals";
import {
  type AgentProc,
  type CniAnswer,
  FAST_AGENT_TIMERS,
  TestBed,
  cniSocket,
  k8sArgs,
  podCall,
} from "./harness.js";

export function useTestBed(
  bed: TestBed,
  setup: () => Promise<void> = async () => undefined,
  setupTimeoutMs = 120_000,
): void {
  beforeAll(async () => {
    await bed.startApi();
    await setup();
  }, setupTimeoutMs);
  afterAll(() => bed.cleanup(), 60_000);
}

/** One node namespace with one agent on FAST_AGENT_TIMERS, ready before the file's tests run. */
export interface OneAgent {
  bed: TestBed;
  node: { netns: string };
  /** A test that restarts the agent stores the new one here. */
  agent: AgentProc;
  namespace: string;
  nodeName: string;
}

/**
 * A bed whose API server has one IPv4 pool of /28 blocks, `<namespace>-v4`,
 * and the namespace, and one node `<namespace>-node` running one agent with
 * the fast timers (leak checks, grace periods) the lifecycle tests wait on.
 */
export function useOneAgent(token: string, cidr: string, namespace: string): OneAgent {
  const bed = new TestBed(token);
  const one = { bed, namespace, nodeName: `${namespace}-node` } as OneAgent;
  useTestBed(bed, async () => {
    await bed.createPool(`${namespace}-v4`, { cidr, blockSize: 28 });
    await bed.core.createNamespace({ body: { metadata: { name: namespace } } });
    one.node = await bed.addNode();
    one.agent = await bed.startAgent(one.nodeName, one.node.netns, FAST_AGENT_TIMERS);
  });
  return one;
}

/**
 * A pod as the kubelet makes one on the agent's node: the Pod object, its
 * network namespace (`netnsToken` makes the name unique), and the CNI ADD
 * through the agent's socket with the pod's K8S_POD_* args.
 */
export async function addPod(
  one: OneAgent,
  pod: string,
  containerID: string,
  netnsToken: string,
): Promise<{ netns: string; answer: CniAnswer }> {
  await one.bed.createPod(one.namespace, pod, one.nodeName);
  const netns = one.bed.netnsName(netnsToken);
  await one.bed.addNetns([netns]);
  const call = podCall("ADD", one.agent, containerID, netns, k8sArgs(one.namespace, pod));
  return { netns, answer: await cniSocket(one.agent.socket, call) };
}
