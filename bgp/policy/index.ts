// bgp/policy: import/export filters for the RIB. `parseFilter(yaml, { localAs })`
// validates and compiles; the RIB calls `evaluate()` on the result.
export type { CompiledPolicy, PolicyRoute, PolicyVerdict } from "./types.js";
export { FilterSchema, FilterObjectSchema, TermSchema, MatchSchema, ActionsSchema } from "./schema.js";
export type { Filter, Term, Match, Actions } from "./schema.js";
export { compileFilter, parseFilter, PolicyError } from "./compile.js";
export type { CompileOptions } from "./compile.js";
export { parseCommunity, formatCommunity, parseLargeCommunity, formatLargeCommunity } from "./community.js";
export { parsePrefixMatch, prefixInRange, routePrefix } from "./prefix-match.js";
