/**
 * End to end with a real runtime: podman (libcni) inside a node namespace,
 * busybox containers, the Trellis conflist with the exec'd static shim, a
 * real trellis-node and the lab API server. Chained portmap, bandwidth and
 * tuning run from our prevResult; IPAM delegated to host-local works.
 * (docs/machine.md: runc, cgroupfs, `nsenter --net=`, `--rootfs` after the flags.)
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AgentProc, SHIM, TestBed, sh } from "../agent/harness.js";

const bed = new TestBed("pm");
let node: { netns: string };
let agent: AgentProc;
let dir: string;

function conflist(name: string, plugins: Record<string, unknown>[]): void {
  writeFileSync(join(dir, "net", `${name}.conflist`), JSON.stringify({ cniVersion: "1.0.0", name, plugins }));
}

function trellis(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: "trellis", agentSocket: agent.socket, mtu: 1450, ipam: { type: "trellis-ipam" }, ...extra };
}

function podman(...args: string[]): Promise<string> {
  return sh("env", [
    `CONTAINERS_CONF=${join(dir, "containers.conf")}`,
    "nsenter",
    `--net=/var/run/netns/${node.netns}`,
    "podman",
    "--root",
    join(dir, "root"),
    "--runroot",
    join(dir, "runroot"),
    "--runtime",
    "/usr/sbin/runc",
    "--cgroup-manager=cgroupfs",
    ...args,
  ]);
}

/** `podman run` with the flags docs/machine.md needs; the rootfs goes last, before the command. */
function run(network: string, opts: string[], ...cmd: string[]): Promise<string> {
  return podman(
    "run",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=4096:4096",
    "--network",
    network,
    ...opts,
    "--rootfs",
    join(dir, "rootfs"),
    ...cmd,
  );
}

function inNode(...args: string[]): Promise<string> {
  return sh("nsenter", [`--net=/var/run/netns/${node.netns}`, ...args]);
}

beforeAll(async () => {
  await bed.startApi();
  dir = bed.dir;
  await bed.createPool("e2e-v4", { cidr: "10.80.0.0/16", blockSize: 26 });
  node = await bed.addNode();
  agent = await bed.startAgent("pm-node", node.netns);
  for (const d of ["rootfs/bin", "bin", "net", "root", "runroot", "hl"])
    mkdirSync(join(dir, d), { recursive: true });
  copyFileSync("/bin/busybox", join(dir, "rootfs/bin/busybox"));
  for (const a of ["sh", "ip", "nc", "ping", "sleep", "cat", "echo", "ls"])
    symlinkSync("busybox", join(dir, "rootfs/bin", a));
  // The real static shim is what podman execs, VERSION probe included
  // (libcni sends only {"cniVersion"} and CNI_NETNS=dummy; the shim answers it).
  copyFileSync(SHIM, join(dir, "bin/trellis"));
  await sh("chmod", ["+x", join(dir, "bin/trellis")]);
  writeFileSync(
    join(dir, "containers.conf"),
    `[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["${join(dir, "bin")}", "/usr/lib/cni"]\nnetwork_config_dir = "${join(dir, "net")}"\n`,
  );
  conflist("tapm", [trellis()]);
  conflist("tapm-chain", [
    trellis(),
    { type: "portmap", capabilities: { portMappings: true } },
    {
      type: "bandwidth",
      ingressRate: 8_000_000,
      ingressBurst: 65536,
      egressRate: 8_000_000,
      egressBurst: 65536,
    },
    { type: "tuning", sysctl: { "net.core.somaxconn": "512" } },
  ]);
  conflist("tapm-hl", [
    trellis({
      ipam: { type: "host-local", ranges: [[{ subnet: "10.81.0.0/24" }]], dataDir: join(dir, "hl") },
    }),
  ]);
}, 120_000);

afterAll(async () => {
  if (dir !== undefined) await podman("rm", "-af", "-t", "0").catch(() => undefined);
  await bed.cleanup();
}, 60_000);

describe("podman with the Trellis conflist", () => {
  it("gives the container an address from the node's block with the pinned routes", async () => {
    const out = await run(
      "tapm",
      ["--rm"],
      "/bin/sh",
      "-c",
      "ip addr show eth0; ip route; cat /sys/class/net/eth0/mtu",
    );
    const addr = /inet (10\.80\.\d+\.\d+)\/32/.exec(out)?.[1];
    expect(addr).toBeDefined();
    expect(out).toMatch(/default via 169\.254\.1\.1 dev eth0/);
    expect(out).toMatch(/default via 169\.254\.1\.1 dev eth0 onlink/);
    expect(out).toMatch(/^1450$/m);
    const blocks = await bed.list("ipamblocks");
    expect(blocks.some((b) => b.spec["affinity"] === "host:pm-node")).toBe(true);
  }, 60_000);

  it("reaches the node and another container; `podman rm` releases the address and the veth", async () => {
    await run(
      "tapm",
      ["-d", "--name", "tapm-srv"],
      "/bin/sh",
      "-c",
      "while true; do echo hello | nc -l -p 7000; done",
    );
    const ipOut = await podman("exec", "tapm-srv", "/bin/ip", "-4", "-o", "addr", "show", "eth0");
    const srvIp = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(ipOut)?.[1] ?? "";
    expect(srvIp).toMatch(/^10\.80\./);
    const veths = (await inNode("ip", "-o", "link", "show", "type", "veth"))
      .split("\n")
      .filter((l) => l.includes("trl"));
    expect(veths.length).toBe(1);
    const out = await run(
      "tapm",
      ["--rm"],
      "/bin/sh",
      "-c",
      `ping -c1 -W3 10.250.1.2 >/dev/null && echo node-ok; nc -w 3 ${srvIp} 7000 </dev/null`,
    );
    expect(out).toContain("node-ok");
    expect(out).toContain("hello");
    expect((await bed.allocations()).has(srvIp)).toBe(true);
    await podman("rm", "-f", "-t", "0", "tapm-srv");
    expect((await bed.allocations()).has(srvIp)).toBe(false);
    const left = (await inNode("ip", "-o", "link", "show", "type", "veth"))
      .split("\n")
      .filter((l) => l.includes("trl"));
    expect(left).toEqual([]);
  }, 90_000);

  it("chained portmap, bandwidth and tuning work from our prevResult", async () => {
    await run(
      "tapm-chain",
      ["-d", "--name", "tapm-web", "-p", "8080:80"],
      "/bin/sh",
      "-c",
      "while true; do echo from-web | nc -l -p 80; done",
    );
    // tuning: the sysctl inside the container.
    expect((await podman("exec", "tapm-web", "/bin/cat", "/proc/sys/net/core/somaxconn")).trim()).toBe("512");
    // bandwidth: a tbf qdisc on our host veth (it found it in prevResult.interfaces).
    const veth =
      (await inNode("ip", "-o", "link", "show", "type", "veth")).split("\n").find((l) => l.includes("trl")) ??
      "";
    const hostIf = /\d+: (trl[0-9a-f]+)@/.exec(veth)?.[1] ?? "";
    expect(hostIf).not.toBe("");
    expect(await inNode("tc", "qdisc", "show", "dev", hostIf)).toMatch(/tbf/);
    // portmap: the hostPort on the node's address reaches the container, from the uplink side.
    const up = bed.netnsName("u1");
    const reply = await sh("ip", ["netns", "exec", up, "busybox", "nc", "-w", "3", "10.250.1.2", "8080"], "");
    expect(reply).toContain("from-web");
    await podman("rm", "-f", "-t", "0", "tapm-web");
  }, 90_000);

  it("IPAM delegated to host-local gives a host-local address on the routed veth", async () => {
    const out = await run("tapm-hl", ["--rm"], "/bin/sh", "-c", "ip addr show eth0; ip route");
    expect(out).toMatch(/inet 10\.81\.0\.\d+\/32/);
    expect(out).toMatch(/default via 169\.254\.1\.1/);
    // host-local released it on DEL (podman --rm): its data dir holds no reservation.
    const files = await sh("ls", [join(dir, "hl", "tapm-hl")]).catch(() => "");
    expect(files.split("\n").filter((f) => /^10\.81\./.test(f))).toEqual([]);
  }, 60_000);
});
