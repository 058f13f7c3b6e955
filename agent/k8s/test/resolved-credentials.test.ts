/**
 * accessFromResolved: the credentials @kubernetes/client-node resolves for a
 * kubeconfig (what trellisctl loads) carried into the agent's client, or
 * refused by name; and the headers KubeClient then sends. client-node is
 * loaded here as trellisctl loads it (the agent's process never does).
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { accessFromResolved } from "../kubeconfig.js";
import { credentialHeaders } from "../kube-request.js";
import { type Loopback, startLoopback } from "./loopback-server.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

/** What trellisctl's kubeClientFor does, minus the client. */
async function resolve(cluster: object, user: object) {
  const kc = new KubeConfig();
  kc.loadFromString(
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "cl", cluster: { server: "https://10.0.0.1:6443/", ...cluster } }],
      users: [{ name: "u", user }],
      contexts: [{ name: "c", context: { cluster: "cl", user: "u" } }],
      "current-context": "c",
    }),
  );
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const c = kc.getCurrentCluster();
  if (c === null) throw new Error("no cluster");
  return accessFromResolved(c, opts);
}

describe("accessFromResolved: client-node's credentials for the agent's client", () => {
  it("CA, client certificate and key, bearer token", async () => {
    const a = await resolve(
      { "certificate-authority-data": b64("CA") },
      { "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY"), token: "t0k" },
    );
    expect(a).toEqual({
      server: "https://10.0.0.1:6443",
      insecureSkipTlsVerify: false,
      ca: Buffer.from("CA"),
      cert: Buffer.from("CERT"),
      key: Buffer.from("KEY"),
      token: "t0k",
    });
  });

  it("basic auth (a password may hold colons) and impersonation (`as`) are carried", async () => {
    const a = await resolve(
      { "insecure-skip-tls-verify": true },
      { username: "ops", password: "p:w", as: "system:admin" },
    );
    expect(a).toEqual({
      server: "https://10.0.0.1:6443",
      insecureSkipTlsVerify: true,
      basicAuth: { username: "ops", password: "p:w" },
      impersonateUser: "system:admin",
    });
  });

  it.each([
    [
      "a bearer token beside basic auth",
      {},
      { token: "t", username: "a", password: "b" },
      /basic auth .* beside a bearer token/,
    ],
    [
      "tls-server-name",
      { "tls-server-name": "api.internal" },
      { token: "t" },
      /tls-server-name is not supported/,
    ],
    [
      "a certificate without its key",
      {},
      { "client-certificate-data": b64("C") },
      /client-certificate and client-key come together/,
    ],
  ])("%s is refused by name", async (_n, cluster, user, re) => {
    await expect(resolve(cluster, user)).rejects.toThrow(re);
  });

  it("a proxy-url (which client-node keeps in its own agent) is refused, not bypassed", () => {
    expect(() =>
      accessFromResolved({ server: "https://x", skipTLSVerify: false, proxyUrl: "http://proxy:3128" }, {}),
    ).toThrow("proxy-url is not supported by the Trellis client");
  });

  it("a request header it cannot send is refused by name, not dropped", () => {
    const cluster = { server: "https://x", skipTLSVerify: false };
    expect(() => accessFromResolved(cluster, { headers: { "Impersonate-Group": "g" } })).toThrow(
      /the request header "Impersonate-Group" is not supported/,
    );
    expect(() => accessFromResolved(cluster, { headers: { Authorization: "Negotiate x" } })).toThrow(
      /the request header "Authorization"/,
    );
  });
});

describe("credentialHeaders, and what reaches the server", () => {
  it("the bearer token, else basic auth; Impersonate-User beside either", () => {
    const basicAuth = { username: "ops", password: "p:w" };
    expect(credentialHeaders({ basicAuth }, "t")).toEqual({ authorization: "Bearer t" });
    expect(credentialHeaders({ basicAuth, impersonateUser: "u" }, undefined)).toEqual({
      authorization: `Basic ${b64("ops:p:w")}`,
      "impersonate-user": "u",
    });
    expect(credentialHeaders({}, undefined)).toEqual({});
  });

  let server: Loopback | undefined;
  afterEach(() => server?.close());

  it("KubeClient sends basic auth and Impersonate-User", async () => {
    const got: (string | undefined)[][] = [];
    server = await startLoopback(
      (req, res) => {
        got.push([req.headers.authorization, req.headers["impersonate-user"] as string | undefined]);
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      },
      { basicAuth: { username: "ops", password: "pw" }, impersonateUser: "system:admin" },
    );
    await server.client.get("/api/v1/nodes");
    expect(got).toEqual([[`Basic ${b64("ops:pw")}`, "system:admin"]]);
  });

  it("a token beside a tokenFile: the file's token when it reads, the fixed one while it does not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-token-"));
    const got: (string | undefined)[] = [];
    const serve = (req: IncomingMessage, res: ServerResponse) => {
      got.push(req.headers.authorization);
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    };
    try {
      writeFileSync(join(dir, "token"), "from-file\n");
      server = await startLoopback(serve, { token: "fixed", tokenFile: join(dir, "token") });
      await server.client.get("/api/v1/nodes");
      await server.close();
      server = await startLoopback(serve, { token: "fixed", tokenFile: join(dir, "missing") });
      await server.client.get("/api/v1/nodes");
      await server.client.get("/api/v1/nodes");
      expect(got).toEqual(["Bearer from-file", "Bearer fixed", "Bearer fixed"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
