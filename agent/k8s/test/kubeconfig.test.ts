import { describe, expect, it } from "@jest/globals";
import { stringify } from "yaml";
import { inClusterAccess, parseKubeconfig } from "../kubeconfig.js";

const files: Record<string, string> = {
  "/etc/k/ca.pem": "CA-PEM",
  "/etc/k/certs/me.crt": "CERT-PEM",
  "/abs/me.key": "KEY-PEM",
  "/sa/ca.crt": "SA-CA",
};
const read = (p: string): Buffer => {
  const f = files[p];
  if (f === undefined) throw new Error(`ENOENT: no such file '${p}'`);
  return Buffer.from(f);
};
const b64 = (s: string): string => Buffer.from(s).toString("base64");

function config(cluster: object, user: object, current = "c"): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "other", cluster: { server: "https://wrong" } },
      { name: "cl", cluster },
    ],
    users: [{ name: "u", user }],
    contexts: [{ name: "c", context: { cluster: "cl", user: "u" } }],
    "current-context": current,
  });
}

describe("parseKubeconfig: the current context's cluster and user", () => {
  it("embedded data: server (trailing slash dropped), CA, client certificate and key", () => {
    const a = parseKubeconfig(
      config(
        { server: "https://10.0.0.1:6443/", "certificate-authority-data": b64("CA") },
        { "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY") },
      ),
      "/etc/k/config",
      read,
    );
    expect(a.server).toBe("https://10.0.0.1:6443");
    expect(a.ca?.toString()).toBe("CA");
    expect(a.cert?.toString()).toBe("CERT");
    expect(a.key?.toString()).toBe("KEY");
    expect(a.insecureSkipTlsVerify).toBe(false);
    expect(a.token).toBeUndefined();
  });

  it("file paths are relative to the kubeconfig's folder (clientcmd ResolvePaths); absolute ones stay", () => {
    const a = parseKubeconfig(
      config(
        { server: "https://x", "certificate-authority": "ca.pem" },
        { "client-certificate": "certs/me.crt", "client-key": "/abs/me.key" },
      ),
      "/etc/k/config",
      read,
    );
    expect([a.ca?.toString(), a.cert?.toString(), a.key?.toString()]).toEqual([
      "CA-PEM",
      "CERT-PEM",
      "KEY-PEM",
    ]);
  });

  it("a bearer token; a tokenFile is kept as a path (re-read by the client)", () => {
    expect(parseKubeconfig(config({ server: "https://x" }, { token: "t0k" }), "/k", read).token).toBe("t0k");
    const f = parseKubeconfig(config({ server: "https://x" }, { tokenFile: "tok" }), "/etc/k/config", read);
    expect(f.tokenFile).toBe("/etc/k/tok");
    expect(f.token).toBeUndefined();
  });

  it("an empty token does not shadow tokenFile; a token beside a tokenFile keeps both (the file wins once read)", () => {
    const a = parseKubeconfig(
      config({ server: "https://x" }, { token: "", tokenFile: "tok" }),
      "/etc/k/config",
      read,
    );
    expect(a.token).toBeUndefined();
    expect(a.tokenFile).toBe("/etc/k/tok");
    const both = parseKubeconfig(
      config({ server: "https://x" }, { token: "t", tokenFile: "tok" }),
      "/k",
      read,
    );
    expect([both.token, both.tokenFile]).toEqual(["t", "/tok"]);
  });

  it("plain http with insecure-skip-tls-verify (the lab's kubeconfig) and a user without credentials", () => {
    const a = parseKubeconfig(
      config({ server: "http://127.0.0.1:6443", "insecure-skip-tls-verify": true }, {}),
      "/k",
      read,
    );
    expect(a).toEqual({ server: "http://127.0.0.1:6443", insecureSkipTlsVerify: true });
  });

  it.each([
    ["an empty file", "", /\/etc\/k\/config: not a kubeconfig \(empty or not a YAML mapping\)/],
    ["a YAML list", "- a\n- b\n", /not a kubeconfig/],
    [
      "no clusters",
      "apiVersion: v1\nkind: Config\nclusters: []\n",
      /\/etc\/k\/config: no cluster for the current context ""/,
    ],
    [
      "a current context that names nothing",
      config({ server: "https://x" }, {}, "gone"),
      /no cluster for the current context "gone"/,
    ],
    ["a cluster without a server", config({}, {}), /no cluster for the current context "c"/],
    [
      "a certificate without its key",
      config({ server: "https://x" }, { "client-certificate-data": "QQ==" }),
      /user "u": client-certificate and client-key come together/,
    ],
    [
      "an exec plugin",
      config({ server: "https://x" }, { exec: { command: "aws" } }),
      /user "u": "exec" is not supported by trellis-node/,
    ],
    [
      "an unreadable CA file",
      config({ server: "https://x", "certificate-authority": "nope.pem" }, {}),
      /cluster "cl"\.certificate-authority: cannot read \/etc\/k\/nope\.pem/,
    ],
    ["a server that is not a string", config({ server: 6443 }, {}), /no cluster for the current context/],
    [
      "a token that is not a string",
      config({ server: "https://x" }, { token: 5 }),
      /user "u"\.token: must be a string/,
    ],
    ["not YAML at all", "a: [", /\/etc\/k\/config: not YAML/],
  ])("%s is refused with a message naming the file", (_n, text, re) => {
    const parse = (): unknown => parseKubeconfig(text, "/etc/k/config", read);
    expect(parse).toThrow(re);
    expect(parse).toThrow(/^\/etc\/k\/config: /);
  });
});

describe("inClusterAccess (client-go rest.InClusterConfig)", () => {
  it("the Service's host and port over https, the ServiceAccount's CA and token file", () => {
    const a = inClusterAccess(
      { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
      read,
      "/sa",
    );
    expect(a).toEqual({
      server: "https://10.96.0.1:443",
      ca: Buffer.from("SA-CA"),
      tokenFile: "/sa/token",
      insecureSkipTlsVerify: false,
    });
  });

  it("an IPv6 service address is bracketed", () => {
    const a = inClusterAccess(
      { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" },
      read,
      "/sa",
    );
    expect(a.server).toBe("https://[fd00::1]:443");
  });

  it("outside a cluster, or without the CA, says which", () => {
    expect(() => inClusterAccess({}, read, "/sa")).toThrow(/not in a cluster \(KUBERNETES_SERVICE_HOST/);
    expect(() =>
      inClusterAccess({ KUBERNETES_SERVICE_HOST: "h", KUBERNETES_SERVICE_PORT: "1" }, read, "/none"),
    ).toThrow(/cannot read the ServiceAccount CA/);
  });
});
