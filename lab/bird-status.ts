/** Parsing `birdc show protocols` output (BIRD 2). Pure. */

export interface BirdProtocol {
  name: string;
  proto: string;
  table: string;
  /** BIRD's protocol state: up, down, start, stop, … */
  state: string;
  since: string;
  /** for BGP, the session state (Idle, Connect, Active, OpenSent, OpenConfirm, Established) and last error */
  info: string;
}

/**
 * Rows follow the header line `Name Proto Table State Since Info`; the first
 * five columns are single tokens (our config sets a one-token time format),
 * Info is the rest of the line.
 */
export function parseBirdProtocols(out: string): BirdProtocol[] {
  const rows: BirdProtocol[] = [];
  let inTable = false;
  for (const line of out.split("\n")) {
    if (/^Name\s+Proto\s+Table\s+State\s+Since/.test(line)) {
      inTable = true;
      continue;
    }
    if (!inTable || line.trim() === "") continue;
    const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (m === null) continue;
    rows.push({
      name: m[1] ?? "",
      proto: m[2] ?? "",
      table: m[3] ?? "",
      state: m[4] ?? "",
      since: m[5] ?? "",
      info: (m[6] ?? "").trim(),
    });
  }
  return rows;
}

/** The BGP FSM state out of the Info column ("Active        Socket: Connection refused" -> "Active"). */
export function bgpSessionState(p: BirdProtocol): string {
  return p.info.split(/\s+/)[0] || p.state;
}
