/**
 * What the two state-machine tables share (bgp/session/test/fsm.test.ts, one
 * row per RFC 4271 §8.2.2 transition; bgp/bfd/test/fsm.test.ts, one per
 * RFC 5880 §6.8 rule): the actions a row expects, rendered as short strings.
 */
import { expect } from "@jest/globals";

export interface ActionExpectation {
  /** Actions that must appear, in this order (others may interleave). */
  does?: string[];
  /** Actions that must not appear. */
  not?: string[];
}

/** Fails unless every `does` appears in `got` in order and no `not` appears at all. */
export function expectActions(got: string[], r: ActionExpectation): void {
  if (r.does) expect({ got, inOrder: isSubsequence(r.does, got) }).toEqual({ got, inOrder: true });
  for (const n of r.not ?? []) expect(got).not.toContain(n);
}

function isSubsequence(want: string[], got: string[]): boolean {
  let i = 0;
  for (const g of got) if (i < want.length && g === want[i]) i++;
  return i === want.length;
}
