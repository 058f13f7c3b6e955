// CNI error codes and the error value every failure is shaped into.
// SPEC.md "Error": `{"cniVersion", "code", "msg", "details"}` on stdout with a
// non-zero exit. Codes 0-99 are reserved by the spec; 100+ are plugin codes.

/** Well-known error codes (CNI SPEC.md, section "Error"). */
export const CniCode = {
  /** Incompatible CNI version. */
  IncompatibleVersion: 1,
  /** Unsupported field in network configuration; msg names key and value. */
  UnsupportedField: 2,
  /** Container unknown or does not exist (no cleanup needed by the runtime). */
  UnknownContainer: 3,
  /** Invalid necessary environment variables, like CNI_COMMAND, CNI_CONTAINERID. */
  InvalidEnvironment: 4,
  /** I/O failure, e.g. failed to read network config bytes from stdin. */
  IoFailure: 5,
  /** Failed to decode content, e.g. unmarshalling the network config. */
  DecodingFailure: 6,
  /** Invalid network config (a value that does not validate). */
  InvalidNetworkConfig: 7,
  /** Try again later: a transient condition (resource busy, agent unreachable). */
  TryAgainLater: 11,
  /** STATUS: the plugin is not available (cannot serve ADD). */
  NotAvailable: 50,
  /** STATUS: not available, and existing containers may be damaged. */
  NotAvailableContainersDamaged: 51,
  // Plugin-specific codes (SPEC.md "Error": 100+ are free for plugins), for
  // failures the well-known codes do not name.
  /**
   * ADD for an attachment whose interface already exists: the same
   * (CNI_CONTAINERID, CNI_IFNAME) twice without a DEL, another interface of
   * the same sandbox holding the pod's host veth name, or CNI_IFNAME already
   * present in the pod namespace. The existing attachment is left intact.
   */
  AttachmentExists: 101,
  /** CHECK found the container's networking not as ADD made it (the msg lists each drift). */
  CheckFailed: 103,
  /** Trellis internal error (unexpected failure inside the agent). */
  Internal: 999,
} as const;

export type CniCodeValue = (typeof CniCode)[keyof typeof CniCode] | number;

/** A CNI error with its spec code; thrown by the spec layer and by backends. */
export class CniError extends Error {
  readonly code: number;
  readonly details: string;

  constructor(code: number, msg: string, details = "") {
    super(msg);
    this.name = "CniError";
    this.code = code;
    this.details = details;
  }

  /** The message (the spec calls it `msg`). */
  get msg(): string {
    return this.message;
  }

  /** The spec's JSON shape, for the version the runtime asked for. */
  toJSON(cniVersion: string): CniErrorJson {
    const out: CniErrorJson = { cniVersion, code: this.code, msg: this.message };
    if (this.details !== "") out.details = this.details;
    return out;
  }
}

export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** Wrap anything thrown into a CniError (unknown errors become code 999). */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new CniError(CniCode.Internal, `internal error: ${msg}`);
}
