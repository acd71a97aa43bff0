/**
 * Test helpers for the Redis collector: where Redis is, whether it answers,
 * and private `redis-server` processes that a test may kill and restart.
 *
 * Redis tests run against a real server: `REDIS_URL`, else
 * `redis://127.0.0.1:6379`. When none answers they are skipped with a loud
 * message, unless `PSS_REQUIRE_REDIS=1` (CI), in which case loading the test
 * file fails.
 *
 * @module
 */

import { after } from "node:test";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createConnection, createServer } from "node:net";
import process from "node:process";

const INSTALL_HINT =
  "install Redis (`apt-get install redis-server`, then `redis-server &`) " +
  "or set REDIS_URL=redis://host:port";

/** The Redis the tests use: `REDIS_URL`, else `redis://127.0.0.1:6379`. */
export function redisUrl(): string {
  return process.env.REDIS_URL || "redis://127.0.0.1:6379";
}

/** A key no other test (or test run) uses. */
export function uniqueKey(label: string): string {
  const random = Math.random().toString(36).slice(2, 10);
  return `pss:test:${label}:${process.pid}:${Date.now()}:${random}`;
}

/**
 * Whether a Redis server answers `PING` at `url` within `timeoutMs`
 * (a plain TCP probe, so it does not depend on the code under test).
 */
export function isRedisAvailable(
  url: string = redisUrl(),
  timeoutMs = 500,
): Promise<boolean> {
  let host: string;
  let port: number;
  try {
    const parsed = new URL(url);
    host = parsed.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
    port = Number(parsed.port || 6379);
  } catch {
    return Promise.resolve(false);
  }
  return ping(host, port, timeoutMs);
}

function ping(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let reply = "";
    let settled = false;
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    // A server with `requirepass` answers -NOAUTH: it is there all the same.
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) {
        done(reply.startsWith("+PONG") || reply.startsWith("-NOAUTH"));
      }
    });
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
  });
}

/**
 * Decides whether the Redis tests run. Returns `false` when Redis answers
 * (run them) or a skip reason (also printed with `console.warn`, loudly).
 *
 * @throws {Error} When Redis does not answer and `PSS_REQUIRE_REDIS=1`.
 */
export async function requireRedis(): Promise<string | false> {
  const url = redisUrl();
  if (await isRedisAvailable(url, 1000)) return false;
  const reason = `Redis is not reachable at ${url}: ${INSTALL_HINT}`;
  if (process.env.PSS_REQUIRE_REDIS === "1") {
    throw new Error(`PSS_REQUIRE_REDIS=1 but ${reason}`);
  }
  console.warn(
    `\n${"!".repeat(72)}\n!! SKIPPING Redis tests. ${reason}\n${
      "!".repeat(72)
    }\n`,
  );
  return reason;
}

/**
 * Whether `redis-server` can be started here (for the tests that kill and
 * restart their own server). Returns `false` or a skip reason, like
 * {@linkcode requireRedis}.
 *
 * @throws {Error} When it cannot and `PSS_REQUIRE_REDIS=1`.
 */
export function requireRedisServer(): string | false {
  const result = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  if (result.status === 0) return false;
  const reason = `redis-server is not on PATH: ${INSTALL_HINT}`;
  if (process.env.PSS_REQUIRE_REDIS === "1") {
    throw new Error(`PSS_REQUIRE_REDIS=1 but ${reason}`);
  }
  console.warn(
    `\n${"!".repeat(72)}\n!! SKIPPING Redis outage tests. ${reason}\n${
      "!".repeat(72)
    }\n`,
  );
  return reason;
}

/** A TCP port nobody listens on right now (on 127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Options for {@linkcode startPrivateRedis}. */
export interface PrivateRedisOptions {
  /** Port to listen on; a free one when not given (give it to restart). */
  port?: number;
  /** Working directory for the append-only file; required with `appendonly`. */
  dir?: string;
  /** Run with `--appendonly yes --appendfsync always` (no write is lost). */
  appendonly?: boolean;
  /** More `redis-server` arguments, such as `["--requirepass", "x"]`. */
  args?: string[];
}

/** A `redis-server` started by a test; only this process is ever killed. */
export interface PrivateRedis {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Its process id. */
  readonly pid: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Shuts it down with SIGTERM and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills it with SIGKILL (no shutdown, no save) and waits for it to exit. */
  kill(): Promise<void>;
  /** Lets it run again after a SIGSTOP; nothing once it has exited. */
  resume(): void;
}

/**
 * Spawns `redis-server` on 127.0.0.1 with no RDB snapshots and resolves once
 * it answers `PING`.
 *
 * @throws {Error} When it exits or does not answer within 10 s.
 */
export async function startPrivateRedis(
  options: PrivateRedisOptions = {},
): Promise<PrivateRedis> {
  const port = options.port ?? await freePort();
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--daemonize",
    "no",
    "--protected-mode",
    "no",
  ];
  if (options.dir !== undefined) args.push("--dir", options.dir);
  if (options.appendonly) {
    args.push("--appendonly", "yes", "--appendfsync", "always");
  }
  if (options.args !== undefined) args.push(...options.args);
  const child = spawn("redis-server", args, {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const keep = (chunk: unknown): void => {
    log = (log + String(chunk)).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  let hasExited = false;
  exited.then(() => hasExited = true);
  child.once("error", (error) => keep(`spawn error: ${error.message}`));

  const deadline = Date.now() + 10_000;
  while (!(await ping("127.0.0.1", port, 300))) {
    if (hasExited || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(
        `redis-server on port ${port} did not start:\n${log}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const pid = child.pid as number;
  const signal = async (name: "SIGTERM" | "SIGKILL"): Promise<void> => {
    if (!hasExited) (child as ChildProcess).kill(name);
    await exited;
  };
  return {
    port,
    pid,
    url: `redis://127.0.0.1:${port}`,
    stop: () => signal("SIGTERM"),
    kill: () => signal("SIGKILL"),
    resume: () => {
      // process.kill, not child.kill: Deno's ChildProcess.kill() sends
      // nothing once it has sent a signal, so a later kill() would not.
      if (!hasExited) process.kill(pid, "SIGCONT");
    },
  };
}

/**
 * For one `describe` block: returns a {@linkcode startPrivateRedis} whose
 * servers are resumed (a test may have paused one) and killed after the
 * block. Call it inside the block's callback.
 */
export function privateRedisServers(): (
  options?: PrivateRedisOptions,
) => Promise<PrivateRedis> {
  const servers: PrivateRedis[] = [];
  after(async () => {
    for (const server of servers) {
      server.resume();
      await server.kill();
    }
  });
  return async (options) => {
    const server = await startPrivateRedis(options);
    servers.push(server);
    return server;
  };
}

/** Polls `condition` every 10 ms; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A TCP proxy in front of Redis that can lose replies, from {@linkcode startProxy}. */
export interface RedisProxy {
  /** `redis://127.0.0.1:<port>` of the proxy. */
  readonly url: string;
  /**
   * From now on, the replies of every open connection are discarded: Redis
   * still runs the commands, the client never hears back.
   */
  loseReplies(): void;
  /** Breaks every open connection (the client sees it drop and reconnects). */
  breakConnections(): void;
  /** Stops listening and breaks every connection. */
  close(): Promise<void>;
}

/**
 * Starts a TCP proxy on 127.0.0.1 that forwards to the Redis at `target`,
 * so a test can lose the reply of a command Redis has run: the one fault a
 * retry cannot tell apart from a command that never arrived.
 */
export function startProxy(target: string = redisUrl()): Promise<RedisProxy> {
  const parsed = new URL(target);
  const host = parsed.hostname || "127.0.0.1";
  const port = Number(parsed.port || 6379);
  const pairs = new Set<{ lose: boolean; destroy(): void }>();
  const server = createServer((downstream) => {
    const upstream = createConnection({ host, port });
    const pair = {
      lose: false,
      destroy(): void {
        downstream.destroy();
        upstream.destroy();
        pairs.delete(pair);
      },
    };
    pairs.add(pair);
    downstream.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => {
      if (!pair.lose) downstream.write(chunk);
    });
    for (const socket of [downstream, upstream]) {
      socket.on("error", () => pair.destroy());
      socket.on("close", () => pair.destroy());
    }
  });
  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const listening = typeof address === "object" && address
        ? address.port
        : 0;
      resolve({
        url: `redis://127.0.0.1:${listening}`,
        loseReplies: () => {
          for (const pair of pairs) pair.lose = true;
        },
        breakConnections: () => {
          for (const pair of [...pairs]) pair.destroy();
        },
        close: () =>
          new Promise<void>((done) => {
            for (const pair of [...pairs]) pair.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
