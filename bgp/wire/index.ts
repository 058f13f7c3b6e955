// Public entry of the pure BGP-4 codec. Nothing here opens a socket or reads
// a clock: every function is a deterministic function of its arguments, and
// what the session negotiated travels in CodecOptions.
export * from "./types.js";
export * from "./errors.js";
export { frame } from "./framing.js";
export { decodeMessage, encodeMessage, encodeMessageInto, encodingLength } from "./message.js";
export { packUpdates, endOfRib, isEndOfRib, splitUpdate } from "./pack.js";
export type { RouteGroup } from "./pack.js";
export {
  attributeKey,
  forwardableAttributes,
  formatAttributes,
  formatAsPath,
  attributeName,
} from "./attributes.js";
export { mergeAs4, as4ForTwoOctetPeer, asPathLength, asPathContains } from "./as4.js";
export {
  parsePrefix,
  canonicalPrefix,
  prefixAfi,
  decodePrefixes,
  encodePrefix,
  prefixEncodingLength,
} from "./prefix.js";
export { formatIpv4, formatIpv6, canonicalIpv6, isIpv4, isIpv6, parseIpv4 } from "./address.js";
export { capabilityName } from "./capabilities.js";
export type { ParsedPrefix } from "./prefix.js";
export {
  parseCommunity,
  formatCommunity,
  parseLargeCommunity,
  formatLargeCommunity,
  extendedCommunityView,
  routeTargetCommunity,
} from "./communities.js";
export type { ExtendedCommunityView } from "./communities.js";
export { peerAs, negotiate, unsupportedCapabilityError } from "./open.js";
export type { Negotiated } from "./open.js";
