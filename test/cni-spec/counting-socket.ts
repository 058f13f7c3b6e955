/**
 * A unix socket that counts the connections made to it and closes each at
 * once: a count that does not move proves the shim answered on its own
 * instead of reaching for the agent it was pointed at.
 */
import { createServer } from "node:net";

export class CountingSocket {
  connections = 0;
  path = "";
  private readonly server = createServer((s) => {
    this.connections++;
    s.destroy();
  });

  listen(path: string): Promise<void> {
    this.path = path;
    return new Promise<void>((resolve) => this.server.listen(path, resolve));
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
