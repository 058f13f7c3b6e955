// The container image, built by scripts/build-image with podman from a root
// filesystem the script assembles (no base image, no registry), as root:
// its size stays under the 150 MB goal; the executables the chart names run
// inside it (trellis-node, trellisctl, nft, ip, the static shim); and the
// chart's own install-cni command, rendered by helm and run in the image
// against two host directories, writes the shim and the conflist and writes
// the same bytes when it runs again (idempotent), and the agent's preStop
// hook removes both.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { binaryPaths, readVersions } from "../../lab/controlplane/versions.js";
import { runCommand, type CommandResult } from "../../lab/run-command.js";
import { inNetns } from "../../net/netns-path.js";
import { until } from "../support/until.js";
import { chartDir, repoRoot } from "../helm/chart-files.js";

const TAG = `localhost/trellis-node:test-${process.pid}`;
const SIZE_GOAL = 150_000_000;
// MACHINE: crun fails on these hosts (hybrid cgroups) and the default rlimits
// cannot be raised in this sandbox, so every run names runc and its limits.
const PODMAN_RUN = [
  "--runtime",
  "/usr/sbin/runc",
  "--cgroup-manager=cgroupfs",
  "run",
  "--rm",
  "--ulimit",
  "nofile=1024:1024",
  "--ulimit",
  "nproc=4096:4096",
];

const podman = (args: string[], timeoutMs = 120_000): Promise<CommandResult> =>
  runCommand("podman", args, { timeoutMs });
const inImage = (extra: string[], cmd: string[]): Promise<CommandResult> =>
  podman([...PODMAN_RUN, "--network", "none", ...extra, TAG, ...cmd]);

interface InitContainer {
  name: string;
  command: string[];
  args: string[];
  env: { name: string; value: string }[];
  volumeMounts: { name: string; mountPath: string }[];
}

function ok(r: CommandResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

describe("scripts/build-image: the trellis-node image", () => {
  let buildOutput = "";

  beforeAll(async () => {
    buildOutput = ok(
      await runCommand(join(repoRoot, "scripts/build-image"), ["--tag", TAG], { timeoutMs: 300_000 }),
      "scripts/build-image",
    );
  }, 320_000);

  afterAll(async () => {
    await podman(["rmi", "-f", TAG]);
  });

  it("is under 150 MB and the build says its size and time", async () => {
    expect(buildOutput).toMatch(/build-image: .* [\d.]+ MB, built in [\d.]+ s/);
    const size = Number(
      ok(await podman(["image", "inspect", "--format", "{{.Size}}", TAG]), "inspect").trim(),
    );
    expect(size).toBeGreaterThan(50_000_000);
    expect(size).toBeLessThan(SIZE_GOAL);
  });

  it("was made from no base image: one layer, our labels", async () => {
    const layers = ok(
      await podman(["image", "inspect", "--format", "{{len .RootFS.Layers}}", TAG]),
      "inspect",
    );
    expect(layers.trim()).toBe("1");
    const labels = JSON.parse(
      ok(await podman(["image", "inspect", "--format", "{{json .Labels}}", TAG]), "inspect"),
    );
    const version = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).version;
    expect(labels["org.opencontainers.image.version"]).toBe(version);
  });

  it("runs trellis-node, trellisctl, nft and ip, and holds the static shim", async () => {
    const version = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).version;
    expect(ok(await inImage([], ["trellis-node", "--version"]), "trellis-node").trim()).toBe(version);
    expect(ok(await inImage([], ["trellisctl", "--help"]), "trellisctl")).toMatch(/Usage: trellisctl/);
    expect(ok(await inImage([], ["nft", "--version"]), "nft")).toMatch(/^nftables v/);
    expect(ok(await inImage([], ["ip", "-V"]), "ip")).toMatch(/iproute2/);
    // The shim answers an empty stdin with the spec-shaped decode error (code 6).
    const shim = await inImage([], ["/opt/trellis/bin/trellis"]);
    expect(shim.code).toBe(1);
    expect(JSON.parse(shim.stdout).code).toBe(6);
  }, 180_000);

  it("applies an nftables transaction in its own network namespace (the agent's atomic nft -f)", async () => {
    const r = await inImage(
      ["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"],
      [
        "/bin/sh",
        "-c",
        "printf 'add table inet trellis\\nadd chain inet trellis c { type filter hook input priority 0; }\\n' | nft -f - && nft list tables",
      ],
    );
    expect(ok(r, "nft -f")).toContain("table inet trellis");
  });

  it("runs the chart's install-cni command: shim and conflist in place, the same bytes on a second run, both removed by preStop", async () => {
    const helm = binaryPaths(readVersions()).helm;
    const rendered = ok(
      await runCommand(helm, ["template", "t", chartDir, "--show-only", "templates/daemonset.yaml"]),
      "helm template",
    );
    const ds = parseAllDocuments(rendered)[0]?.toJSON() as {
      spec: {
        template: {
          spec: {
            initContainers: InitContainer[];
            containers: { name: string; lifecycle?: { preStop?: { exec: { command: string[] } } } }[];
          };
        };
      };
    };
    const init = ds.spec.template.spec.initContainers.find((c) => c.name === "install-cni");
    expect(init).toBeDefined();
    if (init === undefined) return;
    const host = mkdtempSync(join(tmpdir(), "trellis-image-"));
    try {
      const mounts = init.volumeMounts.flatMap((m) => ["-v", `${join(host, m.name)}:${m.mountPath}`]);
      for (const m of init.volumeMounts) mkdirSync(join(host, m.name));
      const env = init.env.flatMap((e) => ["-e", `${e.name}=${e.value}`]);
      const once = async (): Promise<void> => {
        ok(
          await inImage([...mounts, ...env, "--cap-drop", "ALL"], [...init.command, ...init.args]),
          "install-cni",
        );
      };
      await once();
      const bin = join(host, "cni-bin", "trellis");
      const confDir = join(host, "cni-conf");
      const conf = readdirSync(confDir).filter((f) => !f.startsWith("."));
      expect(conf).toEqual(["10-trellis.conflist"]);
      const first = readFileSync(join(confDir, conf[0] ?? ""), "utf8");
      expect(JSON.parse(first).plugins[0].type).toBe("trellis");
      expect(statSync(bin).mode & 0o777).toBe(0o755);
      expect(readFileSync(bin).equals(readFileSync(join(repoRoot, "cni/shim/trellis")))).toBe(true);
      await once();
      expect(readFileSync(join(confDir, conf[0] ?? ""), "utf8")).toBe(first);
      expect(readdirSync(confDir)).toEqual(conf); // no temporary file left behind
      expect(readdirSync(join(host, "cni-bin"))).toEqual(["trellis"]);
      // The agent container's preStop hook (cni.removeOnStop) removes both.
      const agent = ds.spec.template.spec.containers.find((c) => c.name === "trellis-node");
      const preStop = agent?.lifecycle?.preStop?.exec.command;
      expect(preStop).toBeDefined();
      ok(await inImage([...mounts, "--cap-drop", "ALL"], preStop ?? []), "preStop");
      expect(readdirSync(confDir)).toEqual([]);
      expect(readdirSync(join(host, "cni-bin"))).toEqual([]);
    } finally {
      rmSync(host, { recursive: true, force: true });
    }
  });
});

/** `podman run -d` of `image` as container `name` on `network`, failing with podman's output. */
async function runDetached(name: string, network: string, image: string, cmd: string[] = []): Promise<void> {
  const args = [...PODMAN_RUN.filter((a) => a !== "--rm"), "-d", "--name", name, "--network", network];
  ok(await podman([...args, image, ...cmd]), `podman run -d ${image}`);
}

/**
 * `podman stop` with a 10 s grace: the container must exit 0 well before it.
 * A PID 1 that ignored SIGTERM (it has no default action there) would be
 * killed only after the grace.
 */
async function expectStopsOnSigterm(name: string): Promise<void> {
  const t0 = Date.now();
  ok(await podman(["stop", "-t", "10", name]), "podman stop");
  expect(Date.now() - t0).toBeLessThan(8000);
  expect(ok(await podman(["inspect", "--format", "{{.State.ExitCode}}", name]), "inspect").trim()).toBe("0");
}

describe("scripts/build-lab-images: localhost/busybox:lab and localhost/pause:lab", () => {
  let out = "";
  let dir = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-lab-images-"));
    out = ok(
      await runCommand(join(repoRoot, "scripts/build-lab-images"), ["--out", dir], { timeoutMs: 120_000 }),
      "scripts/build-lab-images",
    );
  }, 130_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (extra: string[], image: string, cmd: string[]): Promise<CommandResult> =>
    podman([...PODMAN_RUN, "--network", "none", ...extra, image, ...cmd]);

  it("prints both sizes and the build time, and writes both OCI archives", () => {
    expect(out).toMatch(/localhost\/busybox:lab, [\d.]+ MB/);
    expect(out).toMatch(/localhost\/pause:lab, [\d.]+ MB/);
    expect(out).toMatch(/built in [\d.]+ s/);
    expect(readdirSync(dir).sort()).toEqual(["busybox.tar", "pause.tar"]);
  });

  it("busybox:lab has sh, sleep, nc, httpd and ip, and serves HTTP on its loopback", async () => {
    const script = [
      "for a in sh sleep nc httpd ip; do command -v $a >/dev/null || { echo missing $a; exit 1; }; done",
      "echo lab-ok > /var/www/index.html",
      "httpd -p 127.0.0.1:8080 -h /var/www",
      "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 8080",
    ].join(" && ");
    const r = ok(await run([], "localhost/busybox:lab", ["sh", "-c", script]), "busybox:lab");
    expect(r).toMatch(/^HTTP\/1\.[01] 200/);
    expect(r).toContain("lab-ok");
  });

  it("busybox:lab's /bin/pod-echo answers its reply on TCP and UDP, IPv4 and IPv6, and exits 0 on SIGTERM", async () => {
    // Its own network namespace (a real kernel), which the container joins and socat probes from.
    const ns = `trellis-podecho-${process.pid}`;
    const name = `trellis-podecho-test-${process.pid}`;
    const inNs = (args: string[]): Promise<CommandResult> => {
      const [cmd, ...rest] = inNetns(ns, ["socat", ...args]) as [string, ...string[]];
      return runCommand(cmd, rest, { input: "probe\n", timeoutMs: 10_000 });
    };
    ok(await runCommand("ip", ["netns", "add", ns]), "ip netns add");
    try {
      ok(await runCommand("ip", ["-n", ns, "link", "set", "lo", "up"]), "lo up");
      await runDetached(name, `ns:/var/run/netns/${ns}`, "localhost/busybox:lab", [
        "/bin/pod-echo",
        "demo/web",
        "8080",
      ]);
      const replies: string[] = [];
      for (const target of ["TCP:127.0.0.1:8080", "TCP:[::1]:8080", "UDP:127.0.0.1:8080", "UDP:[::1]:8080"]) {
        // The first probe may come before the container has bound its sockets.
        const r = await until(
          `${target} answering`,
          async () => {
            const x = await inNs(["-T", "2", "-", target]);
            return x.stdout !== "" ? x : undefined;
          },
          15_000,
          250,
        );
        replies.push(`${target} ${r.stdout}`);
      }
      expect(replies).toEqual([
        "TCP:127.0.0.1:8080 demo/web\n",
        "TCP:[::1]:8080 demo/web\n",
        "UDP:127.0.0.1:8080 demo/web\n",
        "UDP:[::1]:8080 demo/web\n",
      ]);
      await expectStopsOnSigterm(name);
    } finally {
      await podman(["rm", "-f", name]);
      await runCommand("ip", ["netns", "del", ns]);
    }
  }, 60_000);

  it("pause:lab holds its container until SIGTERM and then exits 0 at once", async () => {
    const name = `trellis-pause-test-${process.pid}`;
    try {
      await runDetached(name, "none", "localhost/pause:lab");
      await new Promise((r) => setTimeout(r, 1000));
      expect(ok(await podman(["inspect", "--format", "{{.State.Running}}", name]), "inspect").trim()).toBe(
        "true",
      );
      await expectStopsOnSigterm(name);
    } finally {
      await podman(["rm", "-f", name]);
    }
  });
});
