// CNI spec versions this plugin speaks and how they compare (semver x.y.z).

/** Supported versions, oldest first (0.1.0/0.2.0 results are out of scope). */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const CURRENT_VERSION: CniVersion = "1.1.0";

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export function isSemver(v: string): boolean {
  return SEMVER.test(v);
}

export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compare two x.y.z versions; NaN-free for valid input, throws otherwise. */
export function compareVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function versionAtLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}

function parse(v: string): number[] {
  const m = SEMVER.exec(v);
  if (m === null) throw new Error(`invalid version ${JSON.stringify(v)}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/**
 * `cniVersions` (1.1.0 configuration): pick the highest listed version that we
 * support, ignoring entries that are not versions at all (SPEC.md section 1:
 * "the runtime ... should use the highest version it supports").
 */
export function highestSupported(listed: readonly string[]): CniVersion | undefined {
  let best: CniVersion | undefined;
  for (const v of listed) {
    if (!isSupportedVersion(v)) continue;
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  return best;
}
