// What the RIB sees of a compiled filter: a pure function from a route to a
// verdict. Kept apart from the schema so bgp/rib depends only on this shape.
import type { PathAttributes, Prefix } from "../wire/types.js";

export interface PolicyRoute {
  prefix: Prefix;
  attributes: PathAttributes;
  /** AS of the neighbour the route came from (import) or goes to (export); our AS for local routes */
  neighborAs: number;
  /** true when the route was originated by this speaker */
  local: boolean;
}

export type PolicyVerdict =
  | { accept: false; term?: string }
  | {
      accept: true;
      /** the input object itself when no action changed anything (the RIB relies on that to share attribute sets) */
      attributes: PathAttributes;
      /** an action asked for next-hop-self on export */
      nextHopSelf?: boolean;
      term?: string;
    };

export interface CompiledPolicy {
  /** evaluate one route; never throws */
  evaluate(route: PolicyRoute): PolicyVerdict;
  /**
   * true when no term matches on the prefix: the verdict is then a function of
   * (attributes, neighborAs, local) only and the RIB evaluates once per attribute set.
   */
  readonly prefixIndependent: boolean;
}
