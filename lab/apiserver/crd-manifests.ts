/**
 * Reads CRD manifests (`*.yaml`/`*.yml`, multi-document) from directories,
 * as `kubectl apply -f DIR` would: non-CRD documents are ignored, files are
 * read in name order so that start-up is deterministic.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

export async function readCrdManifests(dirs: readonly string[]): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith(".yaml") || n.endsWith(".yml")).sort();
    } catch (e) {
      throw new Error(`cannot read CRD directory ${dir}: ${(e as Error).message}`);
    }
    for (const n of names) {
      const file = join(dir, n);
      const docs = parseAllDocuments(await readFile(file, "utf8"));
      if (!Array.isArray(docs)) continue;
      for (const d of docs) {
        if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]?.message ?? "YAML error"}`);
        const v: unknown = d.toJS();
        if (typeof v !== "object" || v === null || Array.isArray(v)) continue;
        const o = v as Record<string, unknown>;
        if (
          o.kind === "CustomResourceDefinition" &&
          typeof o.apiVersion === "string" &&
          o.apiVersion.startsWith("apiextensions.k8s.io/")
        )
          out.push(o);
      }
    }
  }
  return out;
}
