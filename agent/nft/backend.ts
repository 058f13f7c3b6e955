/**
 * Where nft commands go: the real `nft` binary (optionally inside a network
 * namespace) or the fake beside it (fake-nft.ts). Both take one JSON
 * document per call and apply it as one transaction or not at all; both
 * also take a transaction of element adds and deletes alone
 * (`runElements`), which the real one sends as one nf_tables netlink batch
 * from the agent itself (net/netlink/nftables.ts), with no nft process.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { POLICY_TABLE, type TableRef } from "../../policy/compiler/nft-table.js";
import { NftSession } from "./nft-session.js";
import { inNetns, netnsPath } from "../../net/netns-path.js";
import { runProcess, type ProcessResult } from "../../net/run-process.js";
import { encodeElementBatch, type ElementChange } from "../../net/netlink/nftables.js";
import { applyNftBatch, NetlinkError, releaseNetfilterSockets } from "../../net/netlink/netlink.js";

export interface NftBackend {
  /** Applies one `nft -j -f -` document atomically; throws NftError on rejection. */
  run(doc: { nftables: readonly unknown[] }): Promise<void>;
  /** `nft -j list table inet trellis` (or the backend's own table), or null when the table does not exist. */
  listTable(): Promise<{ nftables: unknown[] } | null>;
  /**
   * Applies a transaction made only of element adds and deletes, atomically,
   * without `nft`. Resolves false, having done nothing, when it cannot
   * encode them (the caller then runs them as a document); throws NftError
   * naming the element and the kernel's errno when the kernel refused them
   * (nothing of the transaction applied then).
   */
  runElements?(changes: readonly ElementChange[]): Promise<boolean>;
  /** Ends any process the backend keeps (a persistent session). */
  close?(): void;
}

export class NftError extends Error {
  readonly code = "TRELLIS_ENFT";
  constructor(
    message: string,
    /** The kernel's errno name (ENOENT, EEXIST, …) when the kernel refused a netlink transaction. */
    readonly errno?: string,
  ) {
    super(message);
    this.name = "NftError";
  }
}

/**
 * The largest netlink transaction sent (octets): the ADD's is a few hundred.
 * A larger one (a policy touching thousands of addresses) goes to `nft`,
 * well within the socket's send buffer (netlink.c sets 1 MiB;
 * `netlink_sendmsg` refuses a datagram above it).
 */
const MAX_NETLINK_TRANSACTION = 256 << 10;

/**
 * The real thing: `nft`, in the caller's network namespace or in `netns`.
 * `persistent`: transactions go to one long-lived `nft -j -i` (nft-session.ts)
 * instead of a new `nft -j -f` each; call close() when done.
 */
export class ExecNft implements NftBackend {
  private session: NftSession | undefined;

  /** `table`: the one table listTable reads (default `inet trellis`). */
  constructor(
    private readonly opts: {
      netns?: string;
      nftPath?: string;
      persistent?: boolean;
      table?: TableRef;
      netlink?: boolean;
    } = {},
  ) {}

  private seq = 1;
  /** Whether a transaction went by netlink (the addon then keeps a socket for our namespace: close() releases it). */
  private usedNetlink = false;

  async runElements(changes: readonly ElementChange[]): Promise<boolean> {
    if (this.opts.netlink === false) return false;
    const batch = encodeElementBatch(changes, this.seq);
    if (typeof batch === "string" || batch.bytes.length > MAX_NETLINK_TRANSACTION) return false;
    this.seq = (this.seq + batch.messages.length + 2) % 0x7fffffff || 1;
    this.usedNetlink = true;
    try {
      await applyNftBatch(netnsPath(this.opts.netns), batch);
    } catch (e) {
      if (e instanceof NetlinkError)
        throw new NftError(`nf_tables rejected the transaction: ${e.message} [${e.code}]`, e.code);
      throw new NftError(`nf_tables transaction: ${e instanceof Error ? e.message : String(e)}`);
    }
    return true;
  }

  private argv(args: string[]): string[] {
    return inNetns(this.opts.netns, [this.opts.nftPath ?? "nft", ...args]);
  }

  async run(doc: { nftables: readonly unknown[] }): Promise<void> {
    if (this.opts.persistent === true) {
      this.session ??= new NftSession({ argv: this.argv(["-j", "-i"]) });
      return this.session.run(JSON.stringify(doc));
    }
    // nft opens /dev/stdin, which fails on the socket Node gives a child as
    // its stdin pipe: hand it a private file instead.
    const dir = mkdtempSync(join(tmpdir(), "trellis-nft-"));
    const file = join(dir, "tx.json");
    let r: ProcessResult;
    try {
      writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
      r = await runProcess(this.argv(["-j", "-f", file]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (r.code !== 0)
      throw new NftError(
        `nft rejected the transaction: ${r.stderr.trim().split("\n").slice(0, 6).join(" | ")}`,
      );
  }

  async listTable(): Promise<{ nftables: unknown[] } | null> {
    const t = this.opts.table ?? POLICY_TABLE;
    const r = await runProcess(this.argv(["-j", "list", "table", t.family, t.name]));
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr)) return null;
      throw new NftError(`nft list failed: ${r.stderr.trim()}`);
    }
    return JSON.parse(r.stdout) as { nftables: unknown[] };
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
    if (this.usedNetlink) void releaseNetfilterSockets(netnsPath(this.opts.netns)).catch(() => undefined);
    this.usedNetlink = false;
  }
}
