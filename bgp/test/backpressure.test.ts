// A peer that stops reading must not make the speaker buffer encoded UPDATEs
// without bound: encoding stops at the socket's high-water mark and resumes on
// 'drain'; the rest waits as one entry per prefix.
import { afterAll, describe, expect, it } from "@jest/globals";
import { connect, type Socket } from "node:net";
import { encodeMessage, type CodecOptions } from "../wire/index.js";
import { Speaker } from "../speaker.js";
import { HIGH_WATER } from "../session/peer.js";
import { messageSplitter } from "./message-splitter.js";
import { rawOpen, until } from "./raw-peer.js";

const OPTS: CodecOptions = { fourOctetAs: true, families: [{ afi: 1, safi: 1 }] };
// Each prefix with its own attribute set (a large community): one UPDATE per
// prefix, ~70 bytes each, several MB in all, more than loopback socket buffers hold.
const N = 100000;
let sp: Speaker;
let sock: Socket;

afterAll(async () => {
  sock?.destroy();
  await sp?.stop();
});

describe("send backpressure", () => {
  it("a peer that does not read holds at most the high-water mark of encoded bytes, and gets everything once it reads", async () => {
    sp = new Speaker({ asn: 65001, routerId: "10.0.0.1", listen: { address: "127.0.0.1", port: 0 } });
    sp.addPeer({ address: "127.0.0.2", asn: 65002, passive: true, families: ["ipv4-unicast"] });
    await sp.start();
    for (let i = 0; i < N; i++) {
      sp.originate(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`, { largeCommunities: [`65001:${i}:0`] });
    }

    sock = connect({ host: "127.0.0.1", port: sp.listenPort!, localAddress: "127.0.0.2" });
    let prefixes = 0;
    let eor = false;
    const onData = messageSplitter(OPTS, (m) => {
      if (m.type === "UPDATE") {
        if (m.nlri.length > 1) throw new Error("expected one prefix per UPDATE");
        prefixes += m.nlri.length;
        if (m.nlri.length === 0 && m.withdrawn.length === 0 && !m.mpReach && !m.mpUnreach) eor = true;
      }
    });
    sock.on("data", onData);
    await new Promise<void>((r) => sock.once("connect", () => r()));
    const send = (m: Parameters<typeof encodeMessage>[0]): boolean => sock.write(encodeMessage(m, OPTS));
    send(rawOpen());
    send({ type: "KEEPALIVE" });
    await until(() => sp.peerState("127.0.0.2") === "Established", "Established", 20000);
    // Stop reading: the kernel buffers fill, then the speaker's socket buffer.
    sock.pause();
    await until(() => (sp.peerStatus()[0]?.sendQueue.bufferedBytes ?? 0) > 0, "the socket to back up", 20000);
    await new Promise((r) => setTimeout(r, 500));
    const q = sp.peerStatus()[0]!.sendQueue;
    // One pump step may overshoot the mark by one batch of UPDATEs (2000 prefixes ≈ 20 kB).
    expect(q.bufferedBytes).toBeLessThan(HIGH_WATER + 64 * 1024);
    expect(q.pendingPrefixes).toBeGreaterThan(0);
    expect(prefixes).toBeLessThan(N);

    sock.resume();
    await until(() => prefixes === N && eor, `all ${N} prefixes and End-of-RIB`, 20000);
    expect(sp.peerStatus()[0]!.sendQueue).toEqual({ pendingPrefixes: 0, bufferedBytes: 0 });
  });
});
