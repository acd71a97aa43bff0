import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtime } from "../../src/runtime/adapter.ts";
import { spawnRuntime, startRuntime, tempDir } from "../fixtures/spawn.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const onDeno = runtime.name === "deno";
const currentRuntime = onDeno ? "deno" : "bun";

describe("files port", () => {
  test("appends, reads back and tells kinds and identities", async () => {
    const dir = await tempDir();
    try {
      const path = join(dir, "nested", "a.ndjson");
      assert.equal(runtime.files.kindSync(path), undefined);
      assert.equal(runtime.files.prepareAppendSync(path), "file");
      assert.equal(runtime.files.kindSync(path), "file");
      assert.equal(runtime.files.kindSync(dir), "other");
      const file = await runtime.files.open(path, "append");
      const bytes = new TextEncoder().encode("one\ntwo\n");
      assert.equal(await file.write(bytes), bytes.length);
      assert.equal(await file.size(), bytes.length);
      assert.equal(await file.identity(), await runtime.files.identity(path));
      file.close();
      file.close(); // closing twice never throws
      const reader = await runtime.files.open(path, "read");
      const buffer = new Uint8Array(64);
      const n = await reader.read(buffer);
      assert.equal(
        new TextDecoder().decode(buffer.subarray(0, n)),
        "one\ntwo\n",
      );
      assert.equal(await reader.read(buffer), 0);
      reader.close();
      assert.equal(await runtime.files.identity(join(dir, "none")), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("locks with flock on Deno and Bun", () => {
    assert.equal(runtime.files.locking, "flock");
  });
});

describe("environment port", () => {
  test("reads a UTF-8 file with a byte-order mark without the mark", async () => {
    const dir = await tempDir();
    try {
      const path = join(dir, "bom.json");
      await writeFile(path, '\uFEFF{"sampleRate":0.5}');
      const read = await runtime.env.readTextFile(path);
      assert.deepEqual(read, { kind: "text", text: '{"sampleRate":0.5}' });
      assert.equal(await runtime.cli!.readTextFile(path), '{"sampleRate":0.5}');
      assert.deepEqual(await runtime.env.readTextFile(join(dir, "none")), {
        kind: "missing",
      });
      const directory = await runtime.env.readTextFile(dir);
      assert.equal(directory.kind, "error");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("reads variables and lists their names", () => {
    assert.deepEqual(runtime.env.env("PATH"), {
      kind: "value",
      value: process.env.PATH,
    });
    assert.deepEqual(runtime.env.env("PSS_SURELY_UNSET_VARIABLE"), {
      kind: "unset",
    });
    assert.ok(runtime.env.envNames()?.includes("PATH"));
    assert.equal(runtime.env.cwd(), process.cwd());
  });
});

describe("process port", () => {
  test("unref'd timers let the process end", async () => {
    const result = await spawnRuntime(currentRuntime, "lifecycle.ts", [
      "unref",
    ], { deadlineMs: 30_000 });
    assert.equal(result.hung, false, "still running after 30 s");
    assert.equal(result.stdout, "ready\nexit hook ran\n");
  });

  test("knows the pid and the host name", () => {
    assert.equal(runtime.process.pid, process.pid);
    assert.equal(runtime.process.hostname(), hostname());
  });

  test("hands SIGTERM to a listener, which exits with its code; exit hooks run", async () => {
    const child = startRuntime(currentRuntime, "lifecycle.ts", ["signal"]);
    const ready = await child.waitFor("ready");
    const pid = Number(ready.split(" ")[1]);
    process.kill(pid, "SIGTERM");
    const result = await child.done;
    assert.equal(result.code, 7, result.stderr);
    assert.match(result.stdout, /got SIGTERM\nexit hook ran\n$/);
  });

  test("calls idle hooks until they schedule no more work", async () => {
    const result = await startRuntime(currentRuntime, "lifecycle.ts", ["idle"])
      .done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      "ready\nidle work 1\nidle work 2\nexit hook ran\n",
    );
  });
});

describe("HTTP port", () => {
  test("serves on loopback, tells the peer, and shuts down idempotently", async () => {
    const server = await runtime.http.serveHttp((request, info) =>
      Response.json({
        path: new URL(request.url).pathname,
        from: info.remoteAddress,
      })
    );
    assert.equal(server.hostname, "127.0.0.1");
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
    const response = await fetch(new URL("x/y", server.url));
    assert.deepEqual(await response.json(), {
      path: "/x/y",
      from: "127.0.0.1",
    });
    await server.shutdown();
    await server.shutdown();
    await assert.rejects(fetch(server.url));
  });

  test("answers 500 and reports when the handler throws", async () => {
    const errors: unknown[] = [];
    await using server = await runtime.http.serveHttp(() => {
      throw new Error("handler failed");
    }, { onError: (error) => errors.push(error) });
    const response = await fetch(server.url);
    assert.equal(response.status, 500);
    await response.body?.cancel();
    assert.equal((errors[0] as Error).message, "handler failed");
  });

  test("rejects when the port is taken", async () => {
    await using server = await runtime.http.serveHttp(() => new Response());
    await assert.rejects(
      runtime.http.serveHttp(() => new Response(), { port: server.port }),
    );
  });
});

describe("permission errors", () => {
  test(
    "name the missing Deno flag",
    { skip: !onDeno && "Bun has no permissions" },
    async () => {
      const deno = join(ROOT, "node_modules", ".bin", "deno");
      const script = join(ROOT, "tests", "fixtures", "permission_probe.ts");
      const child = spawn(deno, ["run", "--no-check", script], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NO_COLOR: "1" },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const code = await new Promise((resolve) => child.on("close", resolve));
      assert.equal(code, 0, stderr);
      assert.equal(
        stdout,
        [
          "read: --allow-read",
          "env: --allow-env",
          "sys: --allow-sys",
          "net: --allow-net",
          "plain: other",
          "hostname: undefined",
          "",
        ].join("\n"),
      );
    },
  );
});
