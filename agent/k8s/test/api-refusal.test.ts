import { describe, expect, it } from "@jest/globals";
import { KubeApiError } from "../kube-request.js";
import { apiRefusal, refusalText } from "../api-refusal.js";

const FORBIDDEN =
  'networkpolicies.networking.k8s.io is forbidden: User "system:serviceaccount:kube-system:trellis-node" ' +
  'cannot list resource "networkpolicies" in API group "networking.k8s.io" at the cluster scope';

describe("apiRefusal", () => {
  it("a 403 carries the server's Status.message: the user, the verb, the resource and its group", () => {
    const body = { kind: "Status", status: "Failure", message: FORBIDDEN, code: 403 };
    const r = apiRefusal(new KubeApiError(403, "GET", "/apis/networking.k8s.io/v1/networkpolicies", body));
    expect(r).toEqual({ status: 403, message: FORBIDDEN });
    expect(refusalText("networkpolicies", r ?? { status: 403, message: "" })).toBe(
      `informer networkpolicies refused by the API server (403 Forbidden: the agent's RBAC (the chart's ` +
        `ClusterRole) lacks this permission): ${FORBIDDEN}; retrying with backoff`,
    );
  });

  it("a Status sent as JSON text is read the same", () => {
    const body = JSON.stringify({ kind: "Status", message: FORBIDDEN, code: 403 });
    expect(apiRefusal(Object.assign(new Error("Forbidden"), { code: 403, body }))).toEqual({
      status: 403,
      message: FORBIDDEN,
    });
  });

  it("an error without the server's Status keeps only the status text: the line names the request instead", () => {
    const watchError = Object.assign(new Error("Forbidden"), { statusCode: 403 });
    const r = apiRefusal(watchError);
    expect(r).toEqual({ status: 403, message: "Forbidden" });
    expect(
      refusalText(
        "networkpolicies",
        r ?? { status: 403, message: "" },
        "list/watch /apis/networking.k8s.io/v1/networkpolicies",
      ),
    ).toMatch(
      /\(403 Forbidden: .*\) on list\/watch \/apis\/networking\.k8s\.io\/v1\/networkpolicies: Forbidden; retrying/,
    );
  });

  it("a 401 is a refusal of the credentials; a body that is not a Status falls back to the error text", () => {
    const r = apiRefusal(new KubeApiError(401, "GET", "/api/v1/pods", "Unauthorized"));
    expect(r?.status).toBe(401);
    expect(r?.message).toBe("GET /api/v1/pods: HTTP 401: Unauthorized");
    expect(refusalText("pods", r ?? { status: 401, message: "" })).toMatch(/401 Unauthorized: .*credentials/);
  });

  it("an outage or any other status is not a refusal", () => {
    expect(apiRefusal(new Error("connect ECONNREFUSED 127.0.0.1:6443"))).toBeUndefined();
    expect(apiRefusal(new KubeApiError(500, "GET", "/api/v1/pods", {}))).toBeUndefined();
    expect(apiRefusal(new KubeApiError(404, "GET", "/api/v1/pods", {}))).toBeUndefined();
  });
});
