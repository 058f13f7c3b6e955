/** Errors the lab reports to its user; the CLI maps `kind` to an exit code. */
export type LabErrorKind = "usage" | "failed" | "not-found" | "already-running";

export class LabError extends Error {
  constructor(
    message: string,
    readonly kind: LabErrorKind = "failed",
  ) {
    super(message);
    this.name = "LabError";
  }
}
