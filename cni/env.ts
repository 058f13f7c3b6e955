// The CNI_* environment (SPEC.md section 2 "Parameters"), validated per
// command as libcni's skel does: which variables each command needs, and the
// shape of container id and interface name (libcni utils.ValidateContainerID,
// ValidateInterfaceName). Every error is code 4 and names the variable.
// VERSION needs only CNI_COMMAND (SPEC.md "VERSION"): libcni probes it with
// CNI_NETNS=dummy and no container, so the other variables are not judged.
import type { CniCommand } from "./backend.js";
import { CniCode, CniError } from "./error.js";

export const COMMANDS: readonly CniCommand[] = ["ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"];

export interface CniEnv {
  command: CniCommand;
  containerID: string;
  netns: string;
  ifname: string;
  args: string;
  path: string[];
}

const REQUIRED: Record<string, readonly CniCommand[]> = {
  CNI_CONTAINERID: ["ADD", "DEL", "CHECK"],
  CNI_NETNS: ["ADD", "CHECK"],
  CNI_IFNAME: ["ADD", "DEL", "CHECK"],
  CNI_PATH: ["ADD", "DEL", "CHECK"],
};

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function bad(msg: string, details = ""): CniError {
  return new CniError(CniCode.InvalidEnvironment, msg, details);
}

/** Linux interface name rules (IFNAMSIZ 16 incl. NUL; dev_valid_name). */
export function interfaceNameProblem(name: string): string | undefined {
  if (name.length > 15) return "is longer than 15 characters";
  if (name === "." || name === "..") return "is . or ..";
  if (/[/:\s]/.test(name)) return "contains '/', ':' or whitespace";
  return undefined;
}

/** Validate the environment. Errors: CniError 4 naming the variable. */
export function parseCniEnv(env: Readonly<Record<string, string | undefined>>): CniEnv {
  const cmd = env.CNI_COMMAND;
  if (cmd === undefined || cmd === "") throw bad("required env variable CNI_COMMAND is missing");
  if (!(COMMANDS as readonly string[]).includes(cmd)) {
    throw bad(
      `CNI_COMMAND: unknown command ${JSON.stringify(cmd)}`,
      `expected one of ${COMMANDS.join(", ")}`,
    );
  }
  const command = cmd as CniCommand;
  const path = (env.CNI_PATH ?? "").split(":").filter((p) => p !== "");
  if (command === "VERSION") {
    return { command, containerID: "", netns: "", ifname: "", args: env.CNI_ARGS ?? "", path };
  }
  for (const [name, cmds] of Object.entries(REQUIRED)) {
    if (cmds.includes(command) && (env[name] === undefined || env[name] === "")) {
      throw bad(`required env variable ${name} is missing for ${command}`);
    }
  }
  const containerID = env.CNI_CONTAINERID ?? "";
  if (containerID !== "" && !CONTAINER_ID.test(containerID)) {
    throw bad("CNI_CONTAINERID: invalid characters in container id", containerID);
  }
  const ifname = env.CNI_IFNAME ?? "";
  if (ifname !== "") {
    const problem = interfaceNameProblem(ifname);
    if (problem !== undefined) throw bad(`CNI_IFNAME: interface name ${problem}`, ifname);
  }
  const netns = env.CNI_NETNS ?? "";
  if (netns !== "" && !netns.startsWith("/")) {
    throw bad("CNI_NETNS: must be an absolute path to a network namespace", netns);
  }
  return { command, containerID, netns, ifname, args: env.CNI_ARGS ?? "", path };
}
