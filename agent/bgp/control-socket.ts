/**
 * The agent's BGP control socket: the same protocol as trellis-bgp's
 * (bgp/control/protocol.ts, JSON lines: `peers`, `routes`), served from the
 * in-process speaker, so `trellisctl bgp peers|routes --socket` and
 * `--node NAME --dir LAB` read a node's sessions and Loc-RIB from its agent.
 * The speaker is read at each request: it may be restarted (a new AS or
 * router ID) or not started yet (before the agent's first sync).
 */
import { dirname, join } from "node:path";
import { ControlServer } from "../../bgp/control/server.js";
import type { SpeakerHost } from "../../bgp/speaker-host.js";

/** The file name beside the CNI socket (in a cluster /var/run/trellis/bgp.sock, trellisctl's default). */
export const CONTROL_SOCKET_NAME = "bgp.sock";

/** `bgp.controlSocket` when set, else bgp.sock in the CNI socket's directory (pure). */
export function controlSocketPath(cniSocket: string, configured: string | undefined): string {
  return configured ?? join(dirname(cniSocket), CONTROL_SOCKET_NAME);
}

/** Listens on `path`; a request while no speaker runs gets an error response naming why. */
export function serveBgpControl(path: string, host: () => SpeakerHost | undefined): Promise<ControlServer> {
  return ControlServer.listen(path, (method) => {
    const h = host();
    if (h === undefined)
      throw new Error("the BGP speaker is not running yet (it starts after the first sync)");
    return method === "peers" ? h.speaker.peerStatus() : h.speaker.routeStatus();
  });
}
