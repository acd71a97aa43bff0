/**
 * `serveAgent`: the agent's handler listening on the running runtime, with
 * an optional HTTP/2 port for native gRPC clients such as pypss.
 *
 * @module
 */

import type { Collector } from "../collect/collector.ts";
import { runtime } from "../runtime/adapter.ts";
import { checkKnownKeys } from "../_options.ts";
import { PssConfigError } from "../score/config.ts";
import {
  type AgentHandler,
  type AgentHandlerOptions,
  type AgentStats,
  createAgentCore,
} from "./handler.ts";
import { type Http2Server, serveHttp2 } from "./_h2c.ts";

/** The port `pss agent` listens on when none is given. */
export const DEFAULT_AGENT_PORT = 7411;

/**
 * Options of {@linkcode serveAgent}.
 *
 * @example
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { serveAgent, type ServeAgentOptions } from "@pss/pss/agent";
 * import assert from "node:assert/strict";
 * const options: ServeAgentOptions = {
 *   hostname: "127.0.0.1",
 *   port: 0, // any free port
 *   sink: new MemoryCollector({ maxTraces: 100_000 }),
 * };
 * await using agent = await serveAgent(options);
 * assert.match(agent.url, /^http:\/\/127\.0\.0\.1:\d+$/);
 * ```
 */
export interface ServeAgentOptions extends AgentHandlerOptions {
  /**
   * The address to listen on. Listening beyond the loopback interface
   * without an `authToken` prints a warning.
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port for Connect and gRPC-web (and the plain routes); 0 picks a
   * free one.
   * @default {7411}
   */
  port?: number;
  /**
   * When set, also listen for native gRPC over HTTP/2 (cleartext h2c, or
   * TLS with `tls`) on this port, for clients such as pypss's
   * `GRPCCollector`; 0 picks a free one.
   * @default {undefined} (no gRPC port)
   */
  grpcPort?: number;
  /**
   * A PEM certificate chain and its private key: serve HTTPS (both ports).
   * @default {undefined} (plain HTTP)
   */
  tls?: { cert: string; key: string };
}

/**
 * A running agent. `close()` (or `await using`) stops listening and
 * flushes the sink; the sink itself stays open, it belongs to the caller.
 *
 * @example
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { type RunningAgent, serveAgent } from "@pss/pss/agent";
 * import assert from "node:assert/strict";
 * const agent: RunningAgent = await serveAgent({ port: 0, sink: new MemoryCollector() });
 * assert.match(agent.url, /^http:\/\/127\.0\.0\.1:\d+$/);
 * assert.equal((await fetch(`${agent.url}/healthz`)).status, 200);
 * await agent.close();
 * ```
 */
export interface RunningAgent extends AsyncDisposable {
  /** Where Connect and gRPC-web clients reach it, such as `http://127.0.0.1:7411`. */
  readonly url: string;
  /** Where native gRPC clients reach it (`host:port`), when `grpcPort` was given. */
  readonly grpcTarget: string | undefined;
  /** The fetch handler it serves. */
  readonly handler: AgentHandler;
  /** The handler's counters. */
  stats(): AgentStats;
  /** Stops listening, then flushes the sink. Idempotent. */
  close(): Promise<void>;
}

const OPTION_KEYS = [
  "sink",
  "authToken",
  "maxBatchTraces",
  "maxBodyBytes",
  "hostname",
  "port",
  "grpcPort",
  "tls",
];

/**
 * Starts the agent on the running runtime (`Deno.serve` or `Bun.serve`):
 * it receives traces from {@linkcode ConnectCollector}s over Connect or
 * gRPC-web and, with `grpcPort`, from pypss's `GRPCCollector` over native
 * gRPC; it stores them in `sink` and scores what the sink holds.
 *
 * @param options See {@linkcode ServeAgentOptions}.
 * @returns The running agent, once it listens.
 * @throws {PssConfigError} For a bad option.
 * @throws {Error} When a port is taken or the runtime cannot listen.
 *
 * @example Receive on a free loopback port
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { serveAgent } from "@pss/pss/agent";
 * import { ConnectCollector } from "@pss/pss/connect";
 *
 * const sink = new MemoryCollector();
 * await using agent = await serveAgent({ port: 0, grpcPort: 0, sink });
 * await using client = new ConnectCollector({ baseUrl: agent.url });
 * client.add({ name: "op", duration: 0.01 });
 * await client.flush();
 * if (sink.size !== 1) throw new Error(`sink holds ${sink.size}`);
 * ```
 */
export async function serveAgent(
  options: ServeAgentOptions,
): Promise<RunningAgent> {
  checkKnownKeys("serveAgent", options, OPTION_KEYS);
  const hostname = options.hostname ?? "127.0.0.1";
  if (typeof hostname !== "string" || hostname === "") {
    throw new PssConfigError(
      "hostname",
      hostname,
      "serveAgent's 'hostname' must be a non-empty string",
    );
  }
  const port = checkPort("port", options.port ?? DEFAULT_AGENT_PORT);
  const grpcPort = options.grpcPort === undefined
    ? undefined
    : checkPort("grpcPort", options.grpcPort);
  const tls = options.tls;
  if (
    tls !== undefined &&
    (tls === null || typeof tls !== "object" || typeof tls.cert !== "string" ||
      typeof tls.key !== "string")
  ) {
    throw new PssConfigError(
      "tls",
      tls,
      "serveAgent's 'tls' must be { cert, key } as PEM strings",
    );
  }
  const sink: Collector = options.sink;
  const core = createAgentCore({
    sink,
    authToken: options.authToken,
    maxBatchTraces: options.maxBatchTraces,
    maxBodyBytes: options.maxBodyBytes,
  });
  if (options.authToken === undefined && !isLoopback(hostname)) {
    console.warn(
      `[pss] agent: listening on ${hostname} without an authToken: anyone who can reach it can submit traces and read scores`,
    );
  }
  const http = await runtime.http.serveHttp(core.handler, {
    hostname,
    port,
    ...(tls === undefined ? {} : { tls }),
  });
  let grpc: Http2Server | undefined;
  if (grpcPort !== undefined) {
    try {
      grpc = await serveHttp2(core.universal, {
        hostname,
        port: grpcPort,
        tls,
      });
    } catch (error) {
      await http.shutdown();
      throw error;
    }
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closing ??= (async () => {
      await Promise.allSettled([http.shutdown(), grpc?.close()]);
      await sink.flush();
    })();
  return {
    url: http.url.replace(/\/+$/, ""),
    grpcTarget: grpc === undefined
      ? undefined
      : grpc.url.replace(/^https?:\/\//, ""),
    handler: core.handler,
    stats: core.handler.stats,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function checkPort(field: string, value: unknown): number {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 0 ||
    value > 65535
  ) {
    throw new PssConfigError(
      field,
      value,
      `serveAgent's '${field}' must be an integer from 0 to 65535`,
    );
  }
  return value;
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" ||
    hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
