/**
 * The plain-text tables the policy benchmarks print: a wide first column
 * (what was measured), then fixed-width columns, trailing blanks trimmed.
 */
export function tableLine(
  firstWidth: number,
  width: number,
): (cells: readonly (string | number)[]) => string {
  return (cells) =>
    cells
      .map((c, i) => String(c).padEnd(i === 0 ? firstWidth : width))
      .join("")
      .trimEnd();
}
