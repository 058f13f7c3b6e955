/**
 * Hold time negotiation, RFC 4271 §4.2 and §10: the session uses the smaller
 * of the two proposed hold times; 0 means no KEEPALIVEs and no hold timer.
 * The keepalive interval is one third of the hold time unless configured
 * lower ("a reasonable maximum ... is one third of the Hold Time").
 */
export interface HoldTimes {
  holdTime: number;
  keepaliveTime: number;
}

export function negotiateHoldTime(local: number, remote: number, configuredKeepalive?: number): HoldTimes {
  const holdTime = Math.min(local, remote);
  if (holdTime === 0) return { holdTime: 0, keepaliveTime: 0 };
  const third = Math.max(1, Math.floor(holdTime / 3));
  const keepaliveTime =
    configuredKeepalive !== undefined && configuredKeepalive > 0
      ? Math.min(configuredKeepalive, third)
      : third;
  return { holdTime, keepaliveTime };
}
