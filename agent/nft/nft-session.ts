/**
 * One long-lived `nft -j -i` process that applies transactions sent down a
 * pipe, so the CNI ADD's transaction does not pay for a process spawn (and
 * nft's start-up) each time: measured on the CNI bench, 10–40 ms per spawned
 * `nft -j -f FILE` inside the agent vs well under 1 ms here.
 *
 * Why interactive mode: nft 1.0.6 cannot read `-f /dev/stdin` from the
 * socket Node gives a child as its stdin, and `-f FIFO` still exits after one
 * file. `nft -i` reads one line at a time and hands each line to
 * nft_run_cmd_from_buffer(): one line = one netlink batch = one atomic
 * transaction (all or nothing, like `-f`). With `-j` a line is parsed as JSON
 * first. `JSON.stringify` never emits a raw newline, so a document is
 * always one line.
 *
 * The process, the marker line after each transaction (nft acknowledges
 * nothing, so the marker is a syntax error whose echo on stderr closes the
 * transaction's messages), restarts and the timeout are net/'s LineSession
 * with NFT_INTERACTIVE_PROTOCOL. An `Error` among a transaction's messages
 * means the kernel (or the parser) rejected it.
 *
 * libedit keeps every line in its history and nft writes it to
 * $HOME/.nft.history at exit: HOME=/dev/null makes that path impossible (so
 * nothing is written, even when the agent is killed), and the process is
 * replaced after `maxTransactions` or `maxBytes` of input so the in-memory
 * history stays bounded.
 */
import { LineSession, LineSessionError, NFT_INTERACTIVE_PROTOCOL } from "../../net/line-session.js";
import { NftError } from "./backend.js";

export interface NftSessionOptions {
  /** Command line of the interactive nft, e.g. ["nft", "-j", "-i"] (maybe behind nsenter). */
  argv: readonly string[];
  /** A transaction without an answer after this long kills the process (ms). */
  timeoutMs?: number;
  maxTransactions?: number;
  maxBytes?: number;
}

export class NftSession {
  private readonly session: LineSession;
  private closed = false;
  /** Transactions run one at a time, in order, so the process is recycled between them. */
  private queue: Promise<void> = Promise.resolve();

  constructor(o: NftSessionOptions) {
    this.session = new LineSession({
      argv: o.argv,
      protocol: NFT_INTERACTIVE_PROTOCOL,
      name: "nft",
      env: { ...process.env, HOME: "/dev/null" },
      timeoutMs: o.timeoutMs ?? 60_000,
      maxBatches: o.maxTransactions ?? 1000,
      maxBytes: o.maxBytes ?? 64 << 20,
      // The agent's exit must not wait for nft; nft exits on its own when its stdin closes.
      unref: true,
    });
  }

  /** The running nft's pid, if one runs (tests, diagnostics). */
  get pid(): number | undefined {
    return this.session.pid;
  }

  /** Applies one JSON document (one line) as one transaction; rejects with NftError. */
  run(doc: string): Promise<void> {
    const p = this.queue.then(() => this.runOne(doc));
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async runOne(doc: string): Promise<void> {
    if (this.closed) throw new NftError("nft session closed");
    if (doc.includes("\n")) throw new NftError("an nft session document must be one line");
    let messages: string[];
    try {
      ({ messages } = await this.session.run([doc]));
    } catch (e) {
      throw new NftError(e instanceof LineSessionError ? e.message : `nft session: ${String(e)}`);
    }
    if (messages.some((l) => /\bError\b/.test(l)))
      throw new NftError(`nft rejected the transaction: ${messages.slice(0, 6).join(" | ")}`);
  }

  /** Ends the process (its stdin closes, so nft exits). */
  close(): void {
    this.closed = true;
    void this.session.close();
  }
}
