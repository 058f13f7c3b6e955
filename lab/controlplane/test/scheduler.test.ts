// lab/controlplane/scheduler.ts, the pure parts: kube-scheduler's config,
// command line, files and identity, and the not-ready taint it must not meet.
import { describe, expect, it } from "@jest/globals";
import { parse } from "yaml";
import { CONTROLLERS } from "../args.js";
import { controlPlaneLayout } from "../layout.js";
import { subject } from "../pki.js";
import {
  KUBE_SCHEDULER,
  NOT_READY_TAINT,
  renderSchedulerConfig,
  schedulerArgv,
  schedulerLayout,
  withoutNotReadyTaint,
} from "../scheduler.js";

const S = schedulerLayout(controlPlaneLayout("/lab"));

describe("kube-scheduler", () => {
  it("its files live under DIR/controlplane/ (lab down removes them)", () => {
    expect(S).toEqual({
      config: "/lab/controlplane/kube-scheduler.yaml",
      kubeconfig: "/lab/controlplane/kube-scheduler.kubeconfig",
      pid: "/lab/controlplane/kube-scheduler.pid",
      log: "/lab/controlplane/kube-scheduler.log",
    });
  });

  it("KubeSchedulerConfiguration v1: its kubeconfig, leader election off", () => {
    expect(parse(renderSchedulerConfig(S.kubeconfig))).toEqual({
      apiVersion: "kubescheduler.config.k8s.io/v1",
      kind: "KubeSchedulerConfiguration",
      clientConnection: { kubeconfig: "/lab/controlplane/kube-scheduler.kubeconfig" },
      leaderElection: { leaderElect: false },
    });
  });

  it("runs from its config file and serves no HTTPS port", () => {
    expect(schedulerArgv("/c/kube-scheduler", S)).toEqual([
      "/c/kube-scheduler",
      "--config=/lab/controlplane/kube-scheduler.yaml",
      "--secure-port=0",
      "--v=1",
    ]);
  });

  it("its certificate's subject is CN=system:kube-scheduler (the default RBAC binds that user)", () => {
    expect(subject(KUBE_SCHEDULER)).toBe("/CN=system:kube-scheduler");
  });
});

describe("what the scheduler places", () => {
  it("kube-controller-manager runs the workload controllers whose pods it binds", () => {
    for (const c of ["deployment-controller", "replicaset-controller", "daemonset-controller"])
      expect(CONTROLLERS).toContain(c);
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
