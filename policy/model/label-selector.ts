/**
 * metav1.LabelSelector: parsing (the zod schema) and its text form; matching
 * is net/label-selector.ts (selectorObjectMatches).
 *
 * "A label selector is a label query over a set of resources. The result of
 * matchLabels and matchExpressions are ANDed. An empty label selector matches
 * all objects. A null label selector matches no objects." (apimachinery
 * types.go, LabelSelector). `null` (absent) is handled by the callers because
 * its meaning differs per field (NetworkPolicy peers vs subjects).
 */
import { z } from "zod";

export const labelSelectorRequirementSchema = z
  .object({
    key: z.string().min(1),
    // Validated here (not by z.enum) so the error names the bad operator.
    operator: z.string(),
    values: z.array(z.string()).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const ops = ["In", "NotIn", "Exists", "DoesNotExist"];
    if (!ops.includes(r.operator)) {
      ctx.addIssue({
        code: "custom",
        path: ["operator"],
        message: `invalid selector operator "${r.operator}": expected one of ${ops.join(", ")}`,
      });
      return;
    }
    // "If the operator is In or NotIn, the values array must be non-empty. If
    // the operator is Exists or DoesNotExist, the values array must be empty."
    const n = r.values?.length ?? 0;
    if ((r.operator === "In" || r.operator === "NotIn") && n === 0) {
      ctx.addIssue({ code: "custom", path: ["values"], message: `operator ${r.operator} needs values` });
    }
    if ((r.operator === "Exists" || r.operator === "DoesNotExist") && n > 0) {
      ctx.addIssue({ code: "custom", path: ["values"], message: `operator ${r.operator} takes no values` });
    }
  });

export const labelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string()).nullish(),
    matchExpressions: z.array(labelSelectorRequirementSchema).nullish(),
  })
  .strict();

export type LabelSelector = z.infer<typeof labelSelectorSchema>;
export type Labels = Readonly<Record<string, string>>;

export function isEmptySelector(sel: LabelSelector): boolean {
  return Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
}

/** A stable text form, for identity hashes and explanations. */
export function selectorText(sel: LabelSelector): string {
  const parts: string[] = [];
  for (const k of Object.keys(sel.matchLabels ?? {}).sort()) parts.push(`${k}=${sel.matchLabels?.[k] ?? ""}`);
  for (const e of sel.matchExpressions ?? []) {
    if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
    else
      parts.push(
        `${e.key} ${e.operator === "In" ? "in" : "notin"} (${[...(e.values ?? [])].sort().join(",")})`,
      );
  }
  return parts.length === 0 ? "{}" : parts.join(",");
}
