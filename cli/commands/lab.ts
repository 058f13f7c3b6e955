import type { Command } from "commander";
import type { Io } from "../program.js";

export function registerLab(program: Command, _io: Io): void {
  program.command("lab").description("Run a local multi-node Trellis cluster in network namespaces");
}
