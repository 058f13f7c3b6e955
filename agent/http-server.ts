/**
 * /healthz (the process answers), /readyz (first full sync done and the CNI
 * server listening; 503 with the reason otherwise) and /metrics (Prometheus,
 * the agent's prom-client registry), served by net/metrics.ts.
 */
import type { Server } from "node:http";
import { type Registry, isAddressError, serveMetrics } from "../net/metrics.js";

export interface HealthSource {
  ready(): boolean;
  notReadyReason(): string;
  registry: Registry;
}

export async function startHealthServer(
  address: string,
  src: HealthSource,
): Promise<{ server: Server; port: number }> {
  const ok = (): { status: number; body: string } => ({ status: 200, body: "ok\n" });
  const s = await serveMetrics(src.registry, address, {
    "/healthz": ok,
    "/livez": ok,
    "/readyz": () => (src.ready() ? ok() : { status: 503, body: `not ready: ${src.notReadyReason()}\n` }),
  });
  if (s === null) throw new Error("metricsAddress: empty (the caller skips the server)");
  if (isAddressError(s)) throw new Error(`metricsAddress: ${s.message}`);
  return { server: s.server, port: s.port };
}
