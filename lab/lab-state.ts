/**
 * `DIR/lab.json`: what `lab up` decided (written before it creates anything,
 * so a half-finished up can be torn down) and how far it got.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";

const nodePlanSchema = z.object({
  index: z.number().int(),
  name: z.string(),
  netns: z.string(),
  ifname: z.string(),
  torIfname: z.string(),
  address4: z.string(),
  torAddress4: z.string(),
  address6: z.string(),
  torAddress6: z.string(),
  podCidr4: z.string(),
  podCidr6: z.string(),
  asn: z.number().int(),
});

export const labStateSchema = z.object({
  version: z.literal(1),
  dir: z.string(),
  prefix: z.string(),
  cni: z.enum(["ptp", "trellis"]),
  phase: z.enum(["starting", "running", "failed"]),
  apiserverUrl: z.string().optional(),
  /** absent: the embedded lab/apiserver */
  controlPlane: z.enum(["embedded", "real"]).optional(),
  /** absent: the kubelet stand-in */
  kubelet: z.enum(["standin", "real"]).optional(),
  /** absent: trellis-node started by the lab (process); chart: the chart's DaemonSet runs it */
  agent: z.enum(["process", "chart"]).optional(),
  error: z.string().optional(),
  plan: z.object({
    prefix: z.string(),
    tor: z.object({ netns: z.string(), routerId: z.string(), asn: z.number().int() }),
    nodes: z.array(nodePlanSchema),
  }),
});

export type LabState = z.infer<typeof labStateSchema>;

export function readLabState(file: string): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not a lab state file: ${(e as Error).message}`);
  }
  const parsed = labStateSchema.safeParse(json);
  if (!parsed.success) {
    // Name the field (zod's message alone, "expected number", says not which).
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new Error(`${file} is not a lab state file: ${where}${issue?.message ?? ""}`);
  }
  return parsed.data;
}

export function writeLabState(file: string, s: LabState): void {
  writeFileSync(file, JSON.stringify(s, null, 2) + "\n");
}
