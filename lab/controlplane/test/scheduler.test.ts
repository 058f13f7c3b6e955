// lab/controlplane/scheduler.ts: what kube-scheduler is given when the control plane starts it (its
// command line, its config file, its kubeconfig and client certificate, made by the real openssl under
// a temporary lab dir; no process is started), and the not-ready taint it must not meet.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { controlPlaneLayout, type ControlPlaneLayout } from "../layout.js";
import { CONTROL_PLANE_CLIENTS, makePki } from "../pki.js";
import { NOT_READY_TAINT, withoutNotReadyTaint, writeSchedulerFiles } from "../scheduler.js";
import { mustRun } from "../../run-command.js";
import { requireCommand } from "../../../test/support/require.js";

const SERVER = "https://127.0.0.1:6443";

describe("kube-scheduler's wiring", () => {
  let dir = "";
  let C: ControlPlaneLayout;
  let argv: string[] = [];
  const kubeconfig = (): {
    clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
    users: { user: { "client-certificate-data": string; "client-key-data": string } }[];
  } => parse(readFileSync(C.scheduler.kubeconfig, "utf8"));
  const unb64 = (s: string | undefined): string => Buffer.from(s ?? "", "base64").toString("utf8");

  beforeAll(async () => {
    requireCommand("openssl", ["version"], "openssl");
    dir = mkdtempSync(join(tmpdir(), "trellis-scheduler-"));
    C = controlPlaneLayout(dir);
    await makePki(C, CONTROL_PLANE_CLIENTS);
    argv = writeSchedulerFiles(C, "/c/kube-scheduler", SERVER);
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs from its config file under DIR/controlplane/ and serves no HTTPS port", () => {
    expect(argv).toEqual([
      "/c/kube-scheduler",
      `--config=${join(dir, "controlplane", "kube-scheduler.yaml")}`,
      "--secure-port=0",
      "--v=1",
    ]);
  });

  it("the config is a KubeSchedulerConfiguration v1 naming its own kubeconfig, leader election off", () => {
    expect(parse(readFileSync(C.scheduler.config, "utf8"))).toEqual({
      apiVersion: "kubescheduler.config.k8s.io/v1",
      kind: "KubeSchedulerConfiguration",
      clientConnection: { kubeconfig: join(dir, "controlplane", "kube-scheduler.kubeconfig") },
      leaderElection: { leaderElect: false },
    });
  });

  it("its pid and log sit beside them under DIR/controlplane/ (lab down removes that dir)", () => {
    expect(C.scheduler.pid).toBe(join(dir, "controlplane", "kube-scheduler.pid"));
    expect(C.scheduler.log).toBe(join(dir, "controlplane", "kube-scheduler.log"));
  });

  it("the kubeconfig reaches kube-apiserver's TLS port, trusts the lab CA, and is readable by its owner only", () => {
    const k = kubeconfig();
    expect(k.clusters[0]?.cluster.server).toBe(SERVER);
    expect(unb64(k.clusters[0]?.cluster["certificate-authority-data"])).toBe(readFileSync(C.caCert, "utf8"));
    expect(statSync(C.scheduler.kubeconfig).mode & 0o777).toBe(0o600);
  });

  it("its client certificate is CN=system:kube-scheduler in no group (the default RBAC binds that user), from the lab CA, with its key", async () => {
    const user = kubeconfig().users[0]?.user;
    const cert = join(dir, "given.crt");
    const key = join(dir, "given.key");
    writeFileSync(cert, unb64(user?.["client-certificate-data"]));
    writeFileSync(key, unb64(user?.["client-key-data"]));
    expect(
      (await mustRun("openssl", ["x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253"])).trim(),
    ).toBe("subject=CN=system:kube-scheduler");
    expect((await mustRun("openssl", ["verify", "-CAfile", C.caCert, cert])).trim()).toBe(`${cert}: OK`);
    const certPub = await mustRun("openssl", ["x509", "-in", cert, "-noout", "-pubkey"]);
    expect(await mustRun("openssl", ["pkey", "-in", key, "-pubout"])).toBe(certPub);
  });
});

describe("the not-ready taint", () => {
  it("only the not-ready NoSchedule taint goes; every other taint stays", () => {
    const other = { key: "dedicated", value: "x", effect: "NoSchedule" };
    const noExecute = { key: NOT_READY_TAINT, effect: "NoExecute" };
    expect(withoutNotReadyTaint([{ key: NOT_READY_TAINT, effect: "NoSchedule" }, other, noExecute])).toEqual([
      other,
      noExecute,
    ]);
    expect(withoutNotReadyTaint([])).toEqual([]);
  });
});
