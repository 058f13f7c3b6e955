/**
 * `node dist/lab/apiserver/main.js --address A --port P [--unix-socket S]
 *  [--state-dir D [--compact-bytes N]] [--crd-dir DIR]... [--history N] [--log-level L]`
 * Prints exactly one JSON line `{"url":…,"port":…}` on stdout once
 * listening; logs go to stderr. With --state-dir every change is on disk
 * before it is answered (persistence.ts), so even kill -9 loses nothing
 * answered; SIGTERM/SIGINT also fold the log into the snapshot. Bad flags:
 * usage on stderr, exit 2.
 */
import { parseArgs } from "node:util";
import { startApiServer, type ApiServerOptions } from "./server.js";

const USAGE = `usage: main.js [--address ADDR] [--port PORT] [--unix-socket PATH] [--state-dir DIR]
               [--compact-bytes N] [--crd-dir DIR]... [--history N] [--log-level LEVEL]
  --address      listen address (default 127.0.0.1)
  --port         TCP port, 0 = ephemeral (default 0)
  --unix-socket  also serve plain HTTP on this unix socket
  --state-dir    keep state in DIR (snapshot + write-ahead log: every change is
                 on disk before it is answered; survives kill -9)
  --compact-bytes  with --state-dir: fold the log into the snapshot once it is
                 this big (default 16777216; also every 30 s and on SIGTERM)
  --crd-dir      register every CRD manifest (*.yaml, *.yml) in DIR (repeatable)
  --history      watch event history per resource (default 10000)
  --log-level    pino level: trace|debug|info|warn|error|fatal|silent (default info)
`;

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

function usage(msg: string): never {
  process.stderr.write(`error: ${msg}\n${USAGE}`);
  process.exit(2);
}

function parse(argv: string[]): ApiServerOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        address: { type: "string" },
        port: { type: "string" },
        "unix-socket": { type: "string" },
        "state-dir": { type: "string" },
        "crd-dir": { type: "string", multiple: true },
        history: { type: "string" },
        "compact-bytes": { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const opts: ApiServerOptions = { address: values.address ?? "127.0.0.1" };
  if (values.port !== undefined) {
    const p = Number(values.port);
    if (!Number.isInteger(p) || p < 0 || p > 65535)
      usage(`--port must be an integer 0..65535, got "${values.port}"`);
    opts.port = p;
  }
  if (values.history !== undefined) {
    const h = Number(values.history);
    if (!Number.isInteger(h) || h < 1) usage(`--history must be a positive integer, got "${values.history}"`);
    opts.historySize = h;
  }
  if (values["compact-bytes"] !== undefined) {
    const b = Number(values["compact-bytes"]);
    if (!Number.isInteger(b) || b < 1)
      usage(`--compact-bytes must be a positive integer, got "${values["compact-bytes"]}"`);
    opts.compactBytes = b;
  }
  if (values["log-level"] !== undefined) {
    if (!LEVELS.includes(values["log-level"])) usage(`--log-level must be one of ${LEVELS.join("|")}`);
    opts.logLevel = values["log-level"];
  }
  if (values["unix-socket"] !== undefined) opts.unixSocket = values["unix-socket"];
  if (values["state-dir"] !== undefined) opts.stateDir = values["state-dir"];
  if (values["crd-dir"] !== undefined) opts.crdDirs = values["crd-dir"];
  return opts;
}

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  let server;
  try {
    server = await startApiServer(opts);
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify({ url: server.url, port: server.port }) + "\n");
  const shutdown = (): void => {
    server
      .close()
      .then(() => process.exit(0))
      .catch((e: unknown) => {
        process.stderr.write(`error: ${(e as Error).message}\n`);
        process.exit(1);
      });
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

void main();
