/**
 * A raw BGP peer for speaker tests: a socket from 127.0.0.2 to the speaker on
 * loopback that gathers every message it receives, and the OPEN it sends as
 * AS 65002 (BGP identifier 10.0.0.2). The speaker under test configures
 * `127.0.0.2`/65002 as a passive peer.
 */
import { connect, type Socket } from "node:net";
import { type BgpMessage, type Capability, type CodecOptions } from "../wire/index.js";
import { messageSplitter } from "./message-splitter.js";
import { until as untilMs } from "./support.js";

/** Polls `f` every 20 ms; fails the test after `ms` (support.ts's until, naming `what` first). */
export function until(f: () => boolean, what: string, ms = 10000): Promise<void> {
  return untilMs(f, ms, what);
}

/** The raw peer's OPEN: hold time 0 (no keepalives needed) and IPv4 unicast with 4-octet AS, unless given. */
export function rawOpen(o: { holdTime?: number; capabilities?: Capability[] } = {}): BgpMessage {
  return {
    type: "OPEN",
    version: 4,
    myAs: 65002,
    holdTime: o.holdTime ?? 0,
    bgpId: "10.0.0.2",
    capabilities: o.capabilities ?? [
      { kind: "multiprotocol", afi: 1, safi: 1 },
      { kind: "four-octet-as", asn: 65002 },
    ],
  };
}

/** Connects to the speaker's `port` from 127.0.0.2; `got` fills with what the speaker sends. */
export async function connectRawPeer(
  port: number,
  opts: CodecOptions,
): Promise<{ sock: Socket; got: BgpMessage[] }> {
  const sock = connect({ host: "127.0.0.1", port, localAddress: "127.0.0.2" });
  const got: BgpMessage[] = [];
  sock.on(
    "data",
    messageSplitter(opts, (m) => got.push(m)),
  );
  sock.on("error", () => undefined);
  await new Promise<void>((r) => sock.once("connect", () => r()));
  return { sock, got };
}
