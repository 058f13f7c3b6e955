/**
 * `trellisctl policy compile|explain`: parse flags, call policy/, format.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { Io } from "../program.js";
import { CliError, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE } from "../exit-codes.js";
import { formatJson, formatTable, parseOutputFormat } from "../output.js";
import { loadClusterFromText, PolicyInputError } from "../../policy/model/load.js";
import { compile, compiledDocument } from "../../policy/compiler/compile.js";
import { renderNftText } from "../../policy/compiler/nft-text.js";
import { evaluate, resolveEndpoint } from "../../policy/evaluator/evaluate.js";
import type { Cluster, Warning } from "../../policy/model/cluster.js";
import { protocolSchema } from "../../policy/model/objects.js";
import { parseAddress } from "../../net/address.js";

function load(file: string): Cluster {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new CliError(
      `cannot read --input ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      EXIT_USAGE,
    );
  }
  try {
    return loadClusterFromText(text);
  } catch (e) {
    if (e instanceof PolicyInputError) throw new CliError(`invalid input: ${e.message}`, EXIT_FAILURE);
    throw e;
  }
}

function warn(io: Io, warnings: readonly Warning[]): void {
  for (const w of warnings) io.err(`warning: ${w.object}: ${w.field}: ${w.message}\n`);
}

export function registerPolicy(program: Command, io: Io): void {
  const policy = program
    .command("policy")
    .description("Compile and explain network policy (NetworkPolicy, admin policies, Tenants)");

  policy
    .command("compile")
    .description("Print the nftables ruleset a node's agent would apply")
    .requiredOption("--input <file>", "multi-document YAML of Namespaces, Pods, policies and Tenants")
    .requiredOption("--node <name>", "the node to compile for")
    .option("-o, --output <format>", "json (nft -j) or nft (nft -f text)", "json")
    .action((opts: { input: string; node: string; output: string }) => {
      const format = parseOutputFormat(opts.output, ["json", "nft"]);
      const c = load(opts.input);
      const out = compile(c, opts.node);
      warn(io, out.warnings);
      io.out(format === "json" ? formatJson(compiledDocument(out.table)) : renderNftText(out.table));
    });

  policy
    .command("explain")
    .description(
      "May FROM reach TO on PORT/PROTOCOL? Prints the verdict and the deciding tier, policy and rule",
    )
    .requiredOption("--input <file>", "multi-document YAML of Namespaces, Pods, policies and Tenants")
    .requiredOption("--from <ns/pod|ip>", "source pod (namespace/name) or IPv4 address")
    .requiredOption("--to <ns/pod|ip>", "destination pod (namespace/name) or IPv4 address")
    .requiredOption("--port <port>", "destination port (1-65535)")
    .option("--protocol <proto>", "TCP, UDP or SCTP", "TCP")
    .option("-o, --output <format>", "json or table", "table")
    .action(
      (opts: { input: string; from: string; to: string; port: string; protocol: string; output: string }) => {
        const format = parseOutputFormat(opts.output);
        const port = /^\d+$/.test(opts.port) ? Number(opts.port) : NaN;
        if (!(port >= 1 && port <= 65535))
          throw new CliError(`invalid --port "${opts.port}": expected 1-65535`, EXIT_USAGE);
        const proto = protocolSchema.safeParse(opts.protocol.toUpperCase());
        if (!proto.success)
          throw new CliError(`invalid --protocol "${opts.protocol}": expected TCP, UDP or SCTP`, EXIT_USAGE);
        for (const [flag, ref] of [
          ["--from", opts.from],
          ["--to", opts.to],
        ] as const)
          if (!ref.includes("/") && typeof parseAddress(ref) === "string")
            throw new CliError(
              `invalid ${flag} "${ref}": expected NAMESPACE/POD or an IP address`,
              EXIT_USAGE,
            );
        const c = load(opts.input);
        const from = resolveEndpoint(c, opts.from);
        const to = resolveEndpoint(c, opts.to);
        if (!from) throw new CliError(`--from ${opts.from}: no such pod in ${opts.input}`, EXIT_NOT_FOUND);
        if (!to) throw new CliError(`--to ${opts.to}: no such pod in ${opts.input}`, EXIT_NOT_FOUND);
        const v = evaluate(c, { from, to, port, protocol: proto.data });
        warn(io, c.warnings);
        if (format === "json") {
          io.out(formatJson({ ...v, warnings: c.warnings }));
          return;
        }
        io.out(`${v.from} -> ${v.to} ${v.port}/${v.protocol}: ${v.allowed ? "ALLOWED" : "DENIED"}\n`);
        const rows = [v.egress, v.ingress]
          .filter((d) => d !== undefined)
          .map((d) => [
            d.direction,
            d.pod,
            d.allowed ? "allow" : "deny",
            d.tier,
            d.policy ?? "-",
            d.rule ?? "-",
            d.reason,
          ]);
        if (rows.length === 0 && v.decidedBy) {
          const d = v.decidedBy;
          rows.push([d.direction, d.pod, "allow", d.tier, "-", "-", d.reason]);
        }
        io.out(formatTable(["direction", "pod", "verdict", "tier", "policy", "rule", "reason"], rows));
      },
    );
}
