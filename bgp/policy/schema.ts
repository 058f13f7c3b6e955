// The filter language of `trellis-bgp` (peer `import:` / `export:`), as a zod
// schema. A filter is an ordered list of terms; the first term whose match
// holds and whose action is accept or reject decides; a term with action
// `next` applies its `set` and falls through. Nothing matched: `default`.
//
//   import:
//     default: reject
//     terms:
//       - name: customers
//         match:
//           prefixes: [{ prefix: 10.0.0.0/8, ge: 16, le: 24 }, { prefix: "2001:db8::/32", le: 48 }]
//           communities: ["65001:100"]          # any of
//           asPath: { regex: "^65002( |$)" }
//         set: { localPref: 200, communities: { add: ["65001:200"] } }
//         action: accept
import { z } from "zod";
import { parseCommunity, parseLargeCommunity } from "./community.js";
import { parsePrefixMatch } from "./prefix-match.js";

const u32 = z.number().int().min(0).max(0xffffffff);
const asn = z.number().int().min(1).max(0xffffffff);

const community = z.string().refine((s) => parseCommunity(s) !== undefined, {
  message: 'expected "ASN:VALUE" (each 0..65535) or no-export, no-advertise, no-export-subconfed, nopeer',
});
const largeCommunity = z.string().refine((s) => parseLargeCommunity(s) !== undefined, {
  message: 'expected "GLOBAL:LOCAL1:LOCAL2" (each 0..4294967295)',
});

const prefixMatch = z
  .union([
    z.string(),
    z
      .object({
        prefix: z.string(),
        ge: z.number().int().min(0).max(128).optional(),
        le: z.number().int().min(0).max(128).optional(),
      })
      .strict(),
  ])
  .superRefine((v, ctx) => {
    const err = parsePrefixMatch(v).error;
    if (err !== undefined) ctx.addIssue({ code: "custom", message: err });
  });

const regex = z.string().superRefine((s, ctx) => {
  try {
    new RegExp(s);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: `invalid regular expression: ${(e as Error).message}` });
  }
});

export const MatchSchema = z
  .object({
    /** any of these prefix ranges (prefix, ge, le as in Cisco/FRR prefix lists) */
    prefixes: z.array(prefixMatch).min(1).optional(),
    family: z.enum(["ipv4", "ipv6"]).optional(),
    /** any of these communities is present */
    communities: z.array(community).min(1).optional(),
    /** any of these large communities is present */
    largeCommunities: z.array(largeCommunity).min(1).optional(),
    asPath: z
      .object({
        /** JavaScript regex over the path as text, e.g. "65002 65003 {65004 65005}" */
        regex: regex.optional(),
        /** any of these ASes appears in the path */
        contains: z.array(asn).min(1).optional(),
        minLength: z.number().int().min(0).optional(),
        maxLength: z.number().int().min(0).optional(),
      })
      .strict()
      .optional(),
    /** the neighbour AS (import: the peer's AS; export: the receiving peer's AS) is one of */
    neighborAs: z.array(asn).min(1).optional(),
    origin: z.enum(["igp", "egp", "incomplete"]).optional(),
    /** route originated by this speaker (true) or learnt (false) */
    local: z.boolean().optional(),
  })
  .strict();

const communityEdit = <T extends z.ZodType>(item: T) =>
  z
    .object({
      set: z.array(item).optional(),
      add: z.array(item).optional(),
      remove: z.array(item).optional(),
    })
    .strict();

export const ActionsSchema = z
  .object({
    localPref: u32.optional(),
    med: u32.optional(),
    communities: communityEdit(community).optional(),
    largeCommunities: communityEdit(largeCommunity).optional(),
    /** prepend our own AS this many times (or `asn` `times` times) */
    asPathPrepend: z
      .union([
        z.number().int().min(1).max(32),
        z.object({ asn, times: z.number().int().min(1).max(32) }).strict(),
      ])
      .optional(),
    /** export: announce ourselves as NEXT_HOP */
    nextHopSelf: z.literal(true).optional(),
  })
  .strict();

export const TermSchema = z
  .object({
    name: z.string().optional(),
    match: MatchSchema.optional(),
    set: ActionsSchema.optional(),
    action: z.enum(["accept", "reject", "next"]).default("accept"),
  })
  .strict();

export const FilterObjectSchema = z
  .object({
    terms: z.array(TermSchema).default([]),
    /** what happens when no term decides (default accept) */
    default: z.enum(["accept", "reject"]).default("accept"),
  })
  .strict();

/** "accept", "reject", or { terms, default } */
export const FilterSchema = z.union([z.enum(["accept", "reject"]), FilterObjectSchema]);

export type Filter = z.infer<typeof FilterSchema>;
export type Term = z.infer<typeof TermSchema>;
export type Match = z.infer<typeof MatchSchema>;
export type Actions = z.infer<typeof ActionsSchema>;
