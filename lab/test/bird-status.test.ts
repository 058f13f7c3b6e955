import { describe, expect, it } from "@jest/globals";
import { bgpSessionState, parseBirdProtocols } from "../bird-status.js";

const sample = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     2026-11-29_18:40:01  
kernel4    Kernel     master4    up     2026-11-29_18:40:01  
node_1     BGP        ---        start  2026-11-29_18:40:01  Active        Socket: Connection refused
node_2     BGP        ---        up     2026-11-29_18:40:05  Established   
`;

describe("birdc show protocols parsing", () => {
  const rows = parseBirdProtocols(sample);

  it("reads one row per protocol after the header", () => {
    expect(rows.map((r) => [r.name, r.proto, r.state])).toEqual([
      ["device1", "Device", "up"],
      ["kernel4", "Kernel", "up"],
      ["node_1", "BGP", "start"],
      ["node_2", "BGP", "up"],
    ]);
  });

  it("takes the BGP session state and last error from the Info column", () => {
    expect(rows[2]?.info).toBe("Active        Socket: Connection refused");
    expect(rows.map((r) => bgpSessionState(r))).toEqual(["up", "up", "Active", "Established"]);
  });

  it("returns nothing for output without the table", () => {
    expect(parseBirdProtocols("Unable to connect to server control socket")).toEqual([]);
  });
});
