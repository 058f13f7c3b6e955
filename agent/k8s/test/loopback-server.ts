/**
 * A loopback HTTP server standing in for the API server, with a KubeClient
 * pointed at it, for tests that need the server to send what a real one
 * rarely does on demand (a bad watch line, a 410 Gone). Streams the handler
 * leaves open are destroyed on close.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeClient } from "../kube-client.js";
import type { ClusterAccess } from "../kubeconfig.js";

export interface Loopback {
  client: KubeClient;
  close(): Promise<void>;
}

export async function startLoopback(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  credentials: Omit<ClusterAccess, "server" | "insecureSkipTlsVerify"> = {},
): Promise<Loopback> {
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    open.add(res);
    res.on("close", () => open.delete(res));
    handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const client = new KubeClient({
    server: `http://127.0.0.1:${port}`,
    insecureSkipTlsVerify: false,
    ...credentials,
  });
  return {
    client,
    close: async () => {
      client.close();
      for (const r of open) r.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
