/**
 * A BGP peer that says exactly what a test tells it to, for the fault tests
 * (faults.test.ts). It runs inside a lab namespace (`ip netns exec NS node
 * bgp-raw-peer.js …`) because the test process stays in the root namespace.
 * The bytes are built by the test with the project's own codec (bgp/wire) and
 * then broken on purpose; this program only moves them and reports what came
 * back, decoded, as JSON lines on stdout.
 *
 *   probe --connect IP --port P [--bind IP] --hex HEX --wait-ms N
 *       one connection: send HEX at once, read until the other side closes or
 *       N ms pass; print {"received": HEX, "closedByPeer": bool}.
 *   peer --listen IP --port P --asn N --router-id IP --hold S
 *       accept connections (the speaker under test connects to us): answer its
 *       OPEN with ours and a KEEPALIVE, keep the session alive, print every
 *       message received ({"event":"message",…}), {"event":"established"},
 *       {"event":"closed"}; each stdin line is HEX to write to the newest
 *       connection ({"event":"sent"} once written).
 *
 * Only addresses of the lab's own namespaces are used (docs/machine.md).
 */
import { connect, createServer, type Socket } from "node:net";
import { createInterface } from "node:readline";
import {
  BgpError,
  decodeMessage,
  encodeMessage,
  frame,
  type BgpMessage,
  type CodecOptions,
} from "../../bgp/wire/index.js";

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function need(args: string[], name: string): string {
  const v = arg(args, name);
  if (v === undefined) {
    process.stderr.write(`bgp-raw-peer: --${name} is required\n`);
    process.exit(2);
  }
  return v;
}

const emit = (o: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify(o) + "\n");
};

/** A message as a JSON line: NOTIFICATION code/subcode/data, UPDATE prefixes, OPEN version and AS. */
function describe(m: BgpMessage): Record<string, unknown> {
  switch (m.type) {
    case "NOTIFICATION":
      return { type: m.type, code: m.code, subcode: m.subcode, data: m.data.toString("hex") };
    case "UPDATE":
      return { type: m.type, nlri: m.nlri, withdrawn: m.withdrawn, mpReach: m.mpReach?.nlri ?? [] };
    case "OPEN":
      return { type: m.type, version: m.version, myAs: m.myAs, bgpId: m.bgpId };
    default:
      return { type: m.type };
  }
}

function probe(args: string[]): void {
  const host = need(args, "connect");
  const port = Number(need(args, "port"));
  const bind = arg(args, "bind");
  const bytes = Buffer.from(need(args, "hex"), "hex");
  const waitMs = Number(arg(args, "wait-ms") ?? "3000");
  const got: Buffer[] = [];
  let done = false;
  const sock = connect({ host, port, ...(bind !== undefined ? { localAddress: bind } : {}) });
  const finish = (closedByPeer: boolean, error?: string): void => {
    if (done) return;
    done = true;
    emit({
      received: Buffer.concat(got).toString("hex"),
      closedByPeer,
      ...(error !== undefined ? { error } : {}),
    });
    sock.destroy();
    process.exit(0);
  };
  sock.on("connect", () => sock.write(bytes));
  sock.on("data", (d: Buffer) => got.push(d));
  sock.on("end", () => finish(true));
  sock.on("close", () => finish(true));
  sock.on("error", (e: NodeJS.ErrnoException) => finish(e.code === "ECONNRESET", e.code ?? e.message));
  setTimeout(() => finish(false), waitMs).unref();
}

function peer(args: string[]): void {
  const host = need(args, "listen");
  const port = Number(need(args, "port"));
  const asn = Number(need(args, "asn"));
  const routerId = need(args, "router-id");
  const hold = Number(arg(args, "hold") ?? "9");
  const opts: CodecOptions = { fourOctetAs: true };
  let current: Socket | undefined;
  const server = createServer((sock) => {
    current = sock;
    let buf = Buffer.alloc(0);
    let established = false;
    const keepalive = setInterval(
      () => sock.write(encodeMessage({ type: "KEEPALIVE" }, opts)),
      Math.max(1000, (hold * 1000) / 3),
    );
    emit({ event: "connected", remote: sock.remoteAddress });
    sock.write(
      encodeMessage(
        {
          type: "OPEN",
          version: 4,
          myAs: asn,
          holdTime: hold,
          bgpId: routerId,
          capabilities: [
            { kind: "multiprotocol", afi: 1, safi: 1 },
            { kind: "four-octet-as", asn },
          ],
        },
        opts,
      ),
    );
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        let f: { length: number; type: number } | null;
        let m: BgpMessage;
        try {
          f = frame(buf);
          if (f === null) break;
          m = decodeMessage(buf, opts);
        } catch (e) {
          emit({ event: "decode-error", error: e instanceof BgpError ? e.message : String(e) });
          sock.destroy();
          return;
        }
        buf = buf.subarray(f.length);
        emit({ event: "message", ...describe(m) });
        if (m.type === "OPEN") sock.write(encodeMessage({ type: "KEEPALIVE" }, opts));
        if (m.type === "KEEPALIVE" && !established) {
          established = true;
          emit({ event: "established" });
        }
      }
    });
    sock.on("error", () => sock.destroy());
    sock.on("close", () => {
      clearInterval(keepalive);
      if (current === sock) current = undefined;
      emit({ event: "closed" });
    });
  });
  server.listen({ host, port }, () => emit({ event: "listening" }));
  createInterface({ input: process.stdin }).on("line", (line) => {
    const hex = line.trim();
    if (hex === "") return;
    if (current === undefined) {
      emit({ event: "not-sent", reason: "no connection" });
      return;
    }
    current.write(Buffer.from(hex, "hex"), () => emit({ event: "sent" }));
  });
  // stdin closed: the test is done with us.
  process.stdin.on("end", () => process.exit(0));
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === "probe") probe(rest);
else if (mode === "peer") peer(rest);
else {
  process.stderr.write("usage: bgp-raw-peer probe|peer …\n");
  process.exit(2);
}
