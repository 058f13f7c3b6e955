/**
 * Where a /metrics server listens: `HOST:PORT` parsed, and the error value
 * for a bad address. Apart from net/metrics.ts (which re-exports it) so that
 * a config schema can check the address without loading prom-client: a
 * trellis-bgp that serves no /metrics never loads it (issue 12, its RSS).
 */
import { isIPv4, isIPv6 } from "node:net";

export interface ListenAddress {
  /** For listen(): brackets removed. */
  host: string;
  port: number;
}

export interface MetricsAddressError {
  code: "TRELLIS_EMETRICSADDR";
  message: string;
}

/**
 * `HOST:PORT` -> where to listen; `""` -> null (disabled). IPv6 literals must
 * be bracketed (`[::]:9179`, `[fd00::1]:9179`), as in a URL; an empty host
 * (`:9179`) means every IPv4 address (`[::]:PORT` for both families).
 */
export function parseListenAddress(address: string): ListenAddress | null | MetricsAddressError {
  if (address === "") return null;
  const bad = (why: string): MetricsAddressError => ({
    code: "TRELLIS_EMETRICSADDR",
    message: `${JSON.stringify(address)}: ${why}`,
  });
  const i = address.lastIndexOf(":");
  if (i < 0) return bad('expected "HOST:PORT" (e.g. 127.0.0.1:9179 or [::]:9179)');
  const hostPart = address.slice(0, i);
  const portPart = address.slice(i + 1);
  if (!/^[0-9]{1,5}$/.test(portPart) || Number(portPart) > 65535) return bad("port must be 0..65535");
  let host: string;
  if (hostPart.startsWith("[")) {
    if (!hostPart.endsWith("]")) return bad("missing ] after the IPv6 address");
    host = hostPart.slice(1, -1);
    if (!isIPv6(host)) return bad(`${host} is not an IPv6 address`);
  } else if (hostPart.includes(":")) {
    return bad("an IPv6 address must be in brackets, e.g. [::]:9179");
  } else if (hostPart === "") {
    host = "0.0.0.0";
  } else if (/^[0-9.]+$/.test(hostPart)) {
    if (!isIPv4(hostPart)) return bad(`${hostPart} is not an IPv4 address`);
    host = hostPart;
  } else if (/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(hostPart)) {
    host = hostPart;
  } else {
    return bad(`${hostPart} is not an address or host name`);
  }
  return { host, port: Number(portPart) };
}

export function isAddressError(x: unknown): x is MetricsAddressError {
  return typeof x === "object" && x !== null && (x as { code?: unknown }).code === "TRELLIS_EMETRICSADDR";
}
