/**
 * A NOTIFICATION as one line for logs and `trellisctl bgp peers`:
 * "NOTIFICATION 6/2 Cease / Administrative Shutdown: maintenance".
 */
import { errorName, parseShutdownCommunication } from "../wire/index.js";

export function describeNotification(code: number, subcode: number, data: Buffer): string {
  let s = `NOTIFICATION ${code}/${subcode} ${errorName(code, subcode)}`;
  // RFC 9003: Administrative Shutdown / Reset may carry a UTF-8 reason.
  if (code === 6 && (subcode === 2 || subcode === 4) && data.length > 0) {
    const text = parseShutdownCommunication(data);
    if (text) s += `: ${text}`;
  }
  return s;
}
