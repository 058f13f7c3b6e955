// Records what real BGP speakers (BIRD, GoBGP, FRR) send, for the codec's
// captured fixtures. Run by capture.sh inside its own network namespace:
//   node dist/bgp/wire/test/capture/record.js <listen-address> <seconds> <out.json>
// With a fourth argument "as2" it plays a 2-octet AS speaker.
// It accepts one session, answers the peer's OPEN with ours (so the peer sends
// its UPDATEs), sends a few UPDATEs of its own (an interop check of the
// encoder: the peer must not answer with a NOTIFICATION), and writes every
// message it received, as hex, with its decoded summary.
import { createServer } from "node:net";
import type { Socket } from "node:net";
import { writeFileSync } from "node:fs";
import { decodeMessage, encodeMessage, endOfRib, frame, negotiate, packUpdates } from "../../index.js";
import type { BgpMessage, CodecOptions } from "../../index.js";
import { OUR_OPEN, OUR_OPEN_AS2 } from "./our-open.js";

const [address = "127.0.0.1", seconds = "5", out = "capture.json", mode = "as4"] = process.argv.slice(2);

// "as2" plays an OLD (2-octet AS) speaker, so the peer sends AS4_PATH.
const ours = mode === "as2" ? OUR_OPEN_AS2 : OUR_OPEN;

interface Record {
  hex: string;
  type: string;
  summary: unknown;
}
const received: Record[] = [];
let opts: CodecOptions = { fourOctetAs: false };
let sentNotification: string | undefined;

function summary(m: BgpMessage): unknown {
  return JSON.parse(
    JSON.stringify(m, (_k, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v)),
  );
}

function onSession(sock: Socket): void {
  let pending = Buffer.alloc(0);
  let established = false;
  const send = (m: BgpMessage) => sock.write(encodeMessage(m, opts));
  sock.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      let f;
      try {
        f = frame(pending);
      } catch (e) {
        sentNotification = String(e);
        sock.destroy();
        return;
      }
      if (f === null) return;
      const raw = pending.subarray(0, f.length);
      pending = pending.subarray(f.length);
      let m: BgpMessage;
      try {
        m = decodeMessage(raw, opts);
      } catch (e) {
        received.push({ hex: raw.toString("hex"), type: "UNDECODABLE", summary: String(e) });
        continue;
      }
      received.push({ hex: raw.toString("hex"), type: m.type, summary: summary(m) });
      if (m.type === "OPEN") {
        opts = negotiate(ours, m, { external: true }).options;
        sock.write(encodeMessage(ours, opts));
        send({ type: "KEEPALIVE" });
      } else if (m.type === "KEEPALIVE" && !established) {
        established = true;
        const attrs = {
          origin: 0 as const,
          asPath: [{ type: 2 as const, asns: [65001] }],
          nextHop: "192.0.2.1",
          communities: [0xfde90064],
          largeCommunities: [{ global: 65001, local1: 1, local2: 2 }],
        };
        for (const b of packUpdates(attrs, ["198.51.100.0/24", "203.0.113.0/25"], [], opts)) sock.write(b);
        const v6 = { ...attrs, nextHop: "2001:db8::1" };
        for (const b of packUpdates(v6, ["2001:db8:100::/48"], [], opts)) sock.write(b);
        send(endOfRib({ afi: 1, safi: 1 }));
        send(endOfRib({ afi: 2, safi: 1 }));
      } else if (m.type === "KEEPALIVE") {
        send({ type: "KEEPALIVE" });
      }
    }
  });
  sock.on("error", () => {});
}

const server = createServer(onSession);
server.listen(179, address);
setTimeout(
  () => {
    const notifications = received.filter((r) => r.type === "NOTIFICATION");
    writeFileSync(
      out,
      JSON.stringify({ received, peerNotifications: notifications.length, sentNotification }, null, 1) + "\n",
    );
    server.close();
    process.exit(0);
  },
  Number(seconds) * 1000,
);
