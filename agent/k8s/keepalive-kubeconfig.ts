/**
 * A KubeConfig whose API calls share one keep-alive agent. client-node 1.x
 * builds a new http(s).Agent for every request, so every IPAM write paid a
 * fresh TCP (and TLS) handshake, and in the lab a fork of the socat relay.
 * The agent's TLS material comes from the kubeconfig and does not change
 * between calls, so the first agent built is kept (with keep-alive on) and
 * reused; per-request auth (bearer tokens) travels in headers as before.
 *
 * MAX_SOCKETS: every informer's watch holds one socket for as long as it
 * runs (17 informers with BGP and policy on), and lists, IPAM writes and
 * status writes need sockets beside them. With 16, the 17th watch queued
 * behind the others and the relisting at start broke ("Premature close",
 * seen in test/lab/api-outage), so the bound leaves ample room.
 */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { KubeConfig } from "@kubernetes/client-node";

const MAX_SOCKETS = 64;

type RequestContext = Parameters<KubeConfig["applySecurityAuthentication"]>[0];

export class KeepAliveKubeConfig extends KubeConfig {
  private shared: HttpAgent | HttpsAgent | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    if (this.shared === undefined) {
      const built = context.getAgent();
      if (built instanceof HttpsAgent) {
        this.shared = new HttpsAgent({ ...built.options, keepAlive: true, maxSockets: MAX_SOCKETS });
      } else if (built instanceof HttpAgent) {
        this.shared = new HttpAgent({
          ...(built as HttpAgent & { options: object }).options,
          keepAlive: true,
          maxSockets: MAX_SOCKETS,
        });
      } else {
        return;
      }
    }
    context.setAgent(this.shared);
  }
}
