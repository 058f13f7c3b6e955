/**
 * The pure compiler: cluster objects + node name -> IR -> table content ->
 * nftables JSON. No clock, no kernel: same inputs, same bytes.
 */
import type { Cluster, Warning } from "../model/cluster.js";
import { buildIR, type PolicyIR } from "./ir.js";
import { fullTransaction, nftDocument, type NftTable } from "./nft-table.js";
import { irToTable } from "./to-nft.js";

export interface Compiled {
  readonly node: string;
  readonly ir: PolicyIR;
  readonly table: NftTable;
  readonly warnings: readonly Warning[];
}

export function compile(c: Cluster, node: string): Compiled {
  const ir = buildIR(c, node);
  return { node, ir, table: irToTable(ir), warnings: c.warnings };
}

/** The `nft -j -f` document that replaces table `inet trellis` atomically with this content. */
export function compiledDocument(t: NftTable): { nftables: Record<string, unknown>[] } {
  return nftDocument(fullTransaction(t, true));
}
