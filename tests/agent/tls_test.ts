/**
 * The agent over HTTPS with a self-signed certificate made at test time
 * (openssl), and a ConnectCollector that trusts it.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { MemoryCollector } from "../../src/collect/memory.ts";
import { ConnectCollector } from "../../src/collect/connect.ts";
import { serveAgent } from "../../src/agent/mod.ts";
import { tempDir } from "../fixtures/spawn.ts";

async function selfSigned(): Promise<{ cert: string; key: string }> {
  const dir = await tempDir();
  try {
    const result = spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      // An end-entity certificate: rustls (Deno's fetch) refuses a CA
      // certificate presented by a server.
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ], { encoding: "utf8" });
    assert.equal(result.status, 0, `openssl failed: ${result.stderr}`);
    return {
      cert: await readFile(join(dir, "cert.pem"), "utf8"),
      key: await readFile(join(dir, "key.pem"), "utf8"),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A fetch that trusts `ca`, the way each runtime spells it. */
function fetchTrusting(ca: string): typeof fetch {
  const deno = (globalThis as {
    Deno?: { createHttpClient(options: { caCerts: string[] }): unknown };
  }).Deno;
  if (!("Bun" in globalThis) && deno !== undefined) {
    const client = deno.createHttpClient({ caCerts: [ca] });
    return ((input: RequestInfo | URL, init?: RequestInit) =>
      fetch(input, { ...init, client } as RequestInit)) as typeof fetch;
  }
  return ((input: RequestInfo | URL, init?: RequestInit) =>
    fetch(input, { ...init, tls: { ca } } as RequestInit)) as typeof fetch;
}

describe("agent over TLS", () => {
  test("serves HTTPS with a certificate and key; a client trusting it ships over Connect and gRPC-web", async () => {
    const tls = await selfSigned();
    const sink = new MemoryCollector();
    await using agent = await serveAgent({ port: 0, sink, tls });
    assert.match(agent.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    for (const protocol of ["connect", "grpc-web"] as const) {
      await using client = new ConnectCollector({
        baseUrl: agent.url,
        protocol,
        fetch: fetchTrusting(tls.cert),
      });
      for (let i = 0; i < 100; i++) client.add({ name: "tls", duration: 0.01 });
      await client.flush();
      assert.equal(client.stats().sent, 100, client.stats().lastError);
    }
    assert.equal(sink.size, 200);
    // A client that does not trust the certificate cannot ship.
    await using untrusting = new ConnectCollector({
      baseUrl: agent.url,
      maxRetries: 0,
      onError: () => {},
    });
    untrusting.add({ name: "tls" });
    await untrusting.flush();
    assert.equal(untrusting.stats().dropped.flushFailed, 1);
    assert.equal(sink.size, 200);
  });
});
