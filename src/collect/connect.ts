/**
 * Shipping traces to a pss agent over Connect-RPC: {@linkcode ConnectCollector}
 * batches traces and calls `pss.v1.TraceService/SubmitTraces` through a
 * fetch-based transport (the Connect protocol or gRPC-web), so it runs on
 * Deno, Bun and anywhere `fetch` exists. It is the counterpart of pypss's
 * `GRPCCollector`, which sends one call per trace.
 *
 * @example Ship to an agent
 * ```ts ignore
 * import { ConnectCollector } from "@pss/pss/connect";
 * import { monitorBlock, setGlobalCollector } from "@pss/pss";
 *
 * await using collector = new ConnectCollector({ baseUrl: "http://127.0.0.1:7411" });
 * setGlobalCollector(collector);
 * { using _ = monitorBlock("checkout"); }
 * ```
 *
 * @module
 */

import {
  type Client,
  Code,
  ConnectError,
  createClient,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-web";
import { fromBinary } from "@bufbuild/protobuf";
import {
  codeFromHttpStatus,
  errorFromJsonBytes,
  requestHeader,
} from "@connectrpc/connect/protocol-connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import {
  headerGrpcStatus,
  requestHeader as grpcWebRequestHeader,
  trailerFlag,
  trailerParse,
  validateResponse,
  validateTrailer,
} from "@connectrpc/connect/protocol-grpc-web";
import { type Trace, traceIdOf } from "../trace.ts";
import {
  type Breakdown,
  type SubmitTracesResponse,
  SubmitTracesResponseSchema,
  TraceService,
} from "../gen/pss/v1/trace_pb.ts";
import type { PssBreakdown } from "../score/report.ts";
import {
  BATCH_OPTION_KEYS,
  BatchCollector,
  type BatchOptions,
} from "./batch.ts";
import {
  ExportInDoubtError,
  PermanentExportError,
  type TraceExporter,
} from "./exporter.ts";
import { BATCH_ID_HEADER, encodeSubmitTraces } from "./_trace_wire.ts";
import { processIdPrefix } from "../_id.ts";
import { checkKnownKeys, positiveNumber } from "../_options.ts";
import { PssConfigError } from "../score/config.ts";

/**
 * The agent's score of what it holds, as `GetScore` returns it.
 *
 * @example
 * ```ts ignore
 * import { type AgentScore, ConnectCollector } from "@pss/pss/connect";
 * import assert from "node:assert/strict";
 * const collector = new ConnectCollector({ baseUrl: "http://127.0.0.1:7411" });
 * const score: AgentScore = await collector.score({ byName: true });
 * assert.ok(score.pss >= 0 && score.pss <= 100);
 * assert.equal(score.byName.length > 0, score.traceCount > 0);
 * ```
 */
export interface AgentScore {
  /** The Program Stability Score, 0 to 100. */
  pss: number;
  /** The five pillars, unrounded. */
  breakdown: PssBreakdown;
  /** Regular traces scored. */
  traceCount: number;
  /** System traces (event-loop lag samples) used. */
  systemTraceCount: number;
  /** Traces skipped as malformed. */
  skippedCount: number;
  /** One score per trace name, sorted by name, when `byName` was asked for. */
  byName: {
    name: string;
    pss: number;
    breakdown: PssBreakdown;
    traceCount: number;
  }[];
}

/**
 * What `score()` asks the agent for.
 *
 * @example
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { serveAgent } from "@pss/pss/agent";
 * import { ConnectCollector, type ScoreRequest } from "@pss/pss/connect";
 * import assert from "node:assert/strict";
 * await using agent = await serveAgent({ port: 0, sink: new MemoryCollector() });
 * await using collector = new ConnectCollector({ baseUrl: agent.url });
 * collector.add({ name: "checkout", duration: 0.1 });
 * collector.add({ name: "search", duration: 0.2 });
 * await collector.flush();
 * const request: ScoreRequest = { names: ["checkout"], byName: true };
 * const score = await collector.score(request);
 * assert.equal(score.traceCount, 1);
 * assert.deepEqual(score.byName.map((row) => row.name), ["checkout"]);
 * ```
 */
export interface ScoreRequest {
  /** Only these trace names (system traces always count). @default {[]} (all) */
  names?: string[];
  /** Add one score per name. @default {false} */
  byName?: boolean;
  /** Aborts the call. */
  signal?: AbortSignal;
}

/**
 * Where and how a {@linkcode ConnectExporter} reaches the agent.
 *
 * @example
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { serveAgent } from "@pss/pss/agent";
 * import { ConnectExporter, type ConnectExporterOptions } from "@pss/pss/connect";
 * import assert from "node:assert/strict";
 * const sink = new MemoryCollector();
 * await using agent = await serveAgent({ port: 0, sink, authToken: "s3cret" });
 * const options: ConnectExporterOptions = {
 *   baseUrl: agent.url, // such as "https://agent.internal:7411"
 *   protocol: "grpc-web",
 *   headers: { authorization: "Bearer s3cret" },
 *   timeoutMs: 5000,
 * };
 * const exporter = new ConnectExporter(options);
 * await exporter.export([{ name: "op", duration: 0.1 }], new AbortController().signal);
 * await exporter.shutdown();
 * assert.equal(sink.size, 1);
 * ```
 */
export interface ConnectExporterOptions {
  /** The agent's URL, such as `http://127.0.0.1:7411` (a path prefix is kept). */
  baseUrl: string;
  /**
   * The wire protocol: Connect (binary protobuf over plain HTTP POSTs) or
   * gRPC-web. Both go through `fetch`, over HTTP/1.1 or HTTP/2.
   * @default {"connect"}
   */
  protocol?: "connect" | "grpc-web";
  /**
   * Headers sent with every call, such as
   * `{ authorization: "Bearer <token>" }` for an agent with an `authToken`.
   * @default {{}}
   */
  headers?: Record<string, string>;
  /**
   * How long one call may take, in milliseconds (sent to the agent as the
   * call's deadline too).
   * @default {10000}
   */
  timeoutMs?: number;
  /**
   * The `fetch` to use, for example one with a custom TLS client.
   * @default {globalThis.fetch}
   */
  fetch?: typeof globalThis.fetch;
}

/**
 * Options of {@linkcode ConnectCollector}: where the agent is, plus the
 * batching options every shipping collector takes.
 *
 * @example
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { serveAgent } from "@pss/pss/agent";
 * import { ConnectCollector, type ConnectCollectorOptions } from "@pss/pss/connect";
 * import assert from "node:assert/strict";
 * const sink = new MemoryCollector();
 * await using agent = await serveAgent({ port: 0, sink });
 * const options: ConnectCollectorOptions = {
 *   baseUrl: agent.url, // such as "http://127.0.0.1:7411"
 *   batchSize: 500,
 *   flushIntervalMs: 1000,
 * };
 * await using collector = new ConnectCollector(options);
 * collector.add({ name: "op", duration: 0.1 });
 * await collector.flush();
 * assert.equal(sink.size, 1);
 * ```
 */
export interface ConnectCollectorOptions
  extends ConnectExporterOptions, BatchOptions {}

/** Batches this process has named (see `BATCH_ID_HEADER`). */
let batchCount = 0;

const EXPORTER_KEYS = ["baseUrl", "protocol", "headers", "timeoutMs", "fetch"];

/**
 * Sends batches of traces to a pss agent's `SubmitTraces`. An export
 * resolves when the agent has answered; traces the agent rejected as
 * malformed are counted in {@linkcode ConnectExporter.rejected}, not
 * retried (sending them again would not make them valid). A failed call
 * (agent down, timeout, refused) rejects, and the batching engine retries.
 *
 * @example Export one batch by hand
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { serveAgent } from "@pss/pss/agent";
 * import { ConnectExporter } from "@pss/pss/connect";
 *
 * const sink = new MemoryCollector();
 * await using agent = await serveAgent({ port: 0, sink });
 * const exporter = new ConnectExporter({ baseUrl: agent.url, protocol: "grpc-web" });
 * await exporter.export([{ name: "op", duration: 0.01 }], AbortSignal.timeout(5000));
 * if (sink.size !== 1) throw new Error(`sink holds ${sink.size}`);
 * ```
 */
export class ConnectExporter implements TraceExporter {
  readonly #client: Client<typeof TraceService>;
  /** Where `SubmitTraces` is posted. */
  readonly #submitUrl: string;
  readonly #protocol: "connect" | "grpc-web";
  readonly #fetch: typeof globalThis.fetch | undefined;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  #rejected = 0;
  #lastRejection: string | undefined;
  /**
   * The id of each batch being exported: the batching engine retries a
   * batch with the same array, so every attempt carries the same id and
   * the agent stores the batch once however many attempts reach it.
   */
  readonly #batchIds = new WeakMap<readonly Trace[], string>();

  /**
   * Checks the options and builds the transport; nothing is sent yet.
   *
   * @param options See {@linkcode ConnectExporterOptions}.
   * @param owner Names the caller in error messages.
   * @throws {PssConfigError} For a missing or malformed `baseUrl`, an
   * unknown `protocol`, or a bad `timeoutMs` or `headers`.
   */
  constructor(options: ConnectExporterOptions, owner = "ConnectExporter") {
    if (options === null || typeof options !== "object") {
      throw new PssConfigError(
        "options",
        options,
        `${owner} needs options with a 'baseUrl'`,
      );
    }
    const baseUrl = checkBaseUrl(owner, options.baseUrl);
    const protocol = options.protocol ?? "connect";
    if (protocol !== "connect" && protocol !== "grpc-web") {
      throw new PssConfigError(
        "protocol",
        protocol,
        `${owner}'s 'protocol' must be "connect" or "grpc-web"`,
      );
    }
    this.#timeoutMs = positiveNumber(
      owner,
      "timeoutMs",
      options.timeoutMs ?? 10_000,
    );
    this.#headers = checkHeaders(owner, options.headers ?? {});
    if (options.fetch !== undefined && typeof options.fetch !== "function") {
      throw new PssConfigError(
        "fetch",
        options.fetch,
        `${owner}'s 'fetch' must be a function`,
      );
    }
    const transportOptions = {
      baseUrl,
      useBinaryFormat: true,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    };
    const transport = protocol === "connect"
      ? createConnectTransport(transportOptions)
      : createGrpcWebTransport(transportOptions);
    this.#client = createClient(TraceService, transport);
    this.#submitUrl =
      `${baseUrl}/${TraceService.typeName}/${TraceService.method.submitTraces.name}`;
    this.#protocol = protocol;
    this.#fetch = options.fetch;
  }

  /** Traces the agent refused as malformed since creation. */
  get rejected(): number {
    return this.#rejected;
  }

  /** The agent's reason for the latest refused trace, if any. */
  get lastRejection(): string | undefined {
    return this.#lastRejection;
  }

  /**
   * Sends one batch and waits for the agent's answer.
   *
   * @param batch The traces, oldest first.
   * @param signal Aborts the call.
   * @returns Resolves once the agent has stored the batch (less any traces
   * it refused as malformed).
   * @throws {ConnectError} When the call fails and retrying may succeed.
   * @throws {ExportInDoubtError} When the call's deadline passed after the
   * batch was sent: the agent may have stored it (a retry of the same batch
   * is not stored again).
   * @throws {PermanentExportError} When the agent refused the batch for
   * good (a wrong token, a batch over its limits): retrying cannot help.
   */
  async export(batch: readonly Trace[], signal?: AbortSignal): Promise<void> {
    // Every trace leaves with an id, as the file and Redis writers give it,
    // so a receiver (pypss's dumper de-duplicates by id) keeps them apart.
    for (const trace of batch) traceIdOf(trace);
    let batchId = this.#batchIds.get(batch);
    if (batchId === undefined) {
      batchId = `${processIdPrefix()}-batch-${++batchCount}`;
      this.#batchIds.set(batch, batchId);
    }
    try {
      await this.#submit(batch, batchId, signal);
    } catch (error) {
      throw classified(error);
    }
  }

  async #submit(
    batch: readonly Trace[],
    batchId: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const headers = { ...this.#headers, [BATCH_ID_HEADER]: batchId };
    const response = this.#protocol === "connect"
      ? await this.#submitConnect(this.#submitUrl, batch, headers, signal)
      : await this.#submitGrpcWeb(this.#submitUrl, batch, headers, signal);
    if (response.rejected > 0) {
      this.#rejected += response.rejected;
      const first = response.rejections[0];
      if (first !== undefined) {
        this.#lastRejection = `trace ${first.index}: ${first.reason}`;
      }
    }
  }

  /**
   * `SubmitTraces` over Connect's unary protocol, posted with `fetch`
   * directly: the headers connect-web sends (built by Connect's own
   * helper), the encoded batch as the body as it is, and the answer or the
   * error read as connect-web reads them. Going through connect-web would
   * copy the batch twice more (protobuf-es re-serializes it) and add a
   * fixed cost per call that is larger than the transfer of a batch.
   */
  async #submitConnect(
    url: string,
    batch: readonly Trace[],
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<SubmitTracesResponse> {
    const response = await this.#post(
      url,
      requestHeader("unary", true, this.#timeoutMs, headers, false),
      encodeSubmitTraces(batch),
      signal,
    );
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (response.status !== 200) {
      throw errorFromJsonBytes(
        bytes,
        response.headers,
        new ConnectError(
          `HTTP ${response.status}`,
          codeFromHttpStatus(response.status),
          response.headers,
        ),
      );
    }
    return fromBinary(SubmitTracesResponseSchema, bytes);
  }

  /**
   * `SubmitTraces` over gRPC-web, posted with `fetch` directly, as the
   * Connect call is: the headers connect-web sends (Connect's own helper),
   * the encoded batch in one envelope, and the answer read as connect-web
   * reads it (the message, then the trailer with the status; an error in
   * the headers or the trailer becomes the same `ConnectError`).
   */
  async #submitGrpcWeb(
    url: string,
    batch: readonly Trace[],
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<SubmitTracesResponse> {
    const response = await this.#post(
      url,
      grpcWebRequestHeader(true, this.#timeoutMs, headers, false),
      encodeEnvelope(0, encodeSubmitTraces(batch)),
      signal,
    );
    const { headerError } = validateResponse(
      response.status,
      response.headers,
    );
    const bytes = new Uint8Array(await response.arrayBuffer());
    let message: Uint8Array | undefined;
    let trailer: Headers | undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let at = 0; at < bytes.length;) {
      if (at + 5 > bytes.length) {
        throw new ConnectError(
          "protocol error: incomplete envelope",
          Code.Internal,
        );
      }
      const flags = bytes[at];
      const end = at + 5 + view.getUint32(at + 1);
      if (end > bytes.length) {
        throw new ConnectError(
          "protocol error: incomplete envelope",
          Code.Internal,
        );
      }
      const data = bytes.subarray(at + 5, end);
      at = end;
      if (flags === trailerFlag) {
        if (trailer !== undefined) {
          throw new ConnectError(
            "protocol error: extra trailer",
            Code.Internal,
          );
        }
        trailer = trailerParse(data);
      } else if (flags !== 0) {
        throw new ConnectError(
          "protocol error: received unsupported compressed output",
          Code.Internal,
        );
      } else if (message !== undefined) {
        throw new ConnectError("extra message", Code.Unimplemented);
      } else message = data;
    }
    if (trailer === undefined) {
      if (headerError !== undefined) throw headerError;
      throw new ConnectError(
        "missing trailer",
        response.headers.has(headerGrpcStatus)
          ? Code.Unimplemented
          : Code.Unknown,
      );
    }
    validateTrailer(trailer, response.headers);
    if (message === undefined) {
      throw new ConnectError(
        "missing message",
        trailer.has(headerGrpcStatus) ? Code.Unimplemented : Code.Unknown,
      );
    }
    return fromBinary(SubmitTracesResponseSchema, message);
  }

  /**
   * Posts one call with `fetch`, within the call's deadline; a failure to
   * reach the agent or the deadline becomes a `ConnectError`.
   */
  async #post(
    url: string,
    headers: Headers,
    body: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    return await (this.#fetch ?? globalThis.fetch)(url, {
      method: "POST",
      redirect: "error",
      headers,
      body: body as Uint8Array<ArrayBuffer>,
      signal: signal === undefined
        ? timeout
        : AbortSignal.any([signal, timeout]),
    }).catch((error: unknown) => {
      throw timeout.aborted
        ? new ConnectError(
          `the call took longer than ${this.#timeoutMs} ms`,
          Code.DeadlineExceeded,
        )
        : ConnectError.from(error, Code.Unavailable);
    });
  }

  /**
   * Asks the agent for the score of what it holds.
   *
   * @param options `names` limits the score to those trace names; `byName`
   * adds one score per name.
   * @returns The agent's answer.
   * @throws {ConnectError} When the call fails.
   */
  async score(options: ScoreRequest = {}): Promise<AgentScore> {
    const response = await this.#client.getScore(
      { names: options.names ?? [], byName: options.byName ?? false },
      {
        headers: this.#headers,
        timeoutMs: this.#timeoutMs,
        signal: options.signal,
      },
    );
    return {
      pss: response.pss,
      breakdown: breakdownOf(response.breakdown),
      traceCount: response.traceCount,
      systemTraceCount: response.systemTraceCount,
      skippedCount: response.skippedCount,
      byName: response.byName.map((named) => ({
        name: named.name,
        pss: named.pss,
        breakdown: breakdownOf(named.breakdown),
        traceCount: named.traceCount,
      })),
    };
  }

  /** Nothing to release: `fetch` keeps no session of ours. */
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * A batching collector that ships traces to a pss agent over Connect-RPC
 * (`pss.v1.TraceService/SubmitTraces`), the counterpart of pypss's
 * `GRPCCollector`. `add()` is synchronous and never throws; batches go out
 * in the background. An agent that is down or slow is handled like any
 * destination of a {@linkcode BatchCollector}: the batch is retried with
 * backoff, drops are counted in `stats()`, nothing is thrown into the host,
 * and the process still exits.
 *
 * The agent holds the traces: `traces()` resolves to an empty array and
 * `clear()` only flushes; ask the agent for the score with `score()`. A
 * batch the agent refuses for good (a wrong token, over its limits) is
 * given up at once and counted, not retried.
 *
 * @example Ship traces to an agent and ask for the score
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { serveAgent } from "@pss/pss/agent";
 * import { ConnectCollector } from "@pss/pss/connect";
 *
 * await using agent = await serveAgent({ port: 0, sink: new MemoryCollector() });
 * await using collector = new ConnectCollector({
 *   baseUrl: agent.url,
 *   protocol: "connect",
 *   batchSize: 500,
 * });
 * collector.add({ name: "op", duration: 0.012 });
 * await collector.flush();
 * const score = await collector.score();
 * if (score.traceCount !== 1) throw new Error(`got ${score.traceCount}`);
 * ```
 */
export class ConnectCollector extends BatchCollector {
  readonly #exporter: ConnectExporter;

  /**
   * Checks the options; nothing is sent until traces arrive.
   *
   * @param options See {@linkcode ConnectCollectorOptions}.
   * @throws {PssConfigError} For a bad or unknown option.
   */
  constructor(options: ConnectCollectorOptions) {
    checkKnownKeys("ConnectCollector", options, [
      ...EXPORTER_KEYS,
      ...BATCH_OPTION_KEYS,
    ]);
    const exporter = new ConnectExporter(options, "ConnectCollector");
    super({ ...batchOptionsOf(options), exporter }, "ConnectCollector");
    this.#exporter = exporter;
  }

  /** Traces the agent refused as malformed (they count as sent in `stats()`). */
  get rejected(): number {
    return this.#exporter.rejected;
  }

  /**
   * Asks the agent for the score of everything it holds (not only what this
   * collector sent).
   *
   * @param options `names` limits the score to those trace names; `byName`
   * adds one score per name.
   * @returns The agent's answer.
   * @throws {ConnectError} When the agent cannot be reached.
   */
  score(options: ScoreRequest = {}): Promise<AgentScore> {
    return this.#exporter.score(options);
  }
}

function breakdownOf(breakdown: Breakdown | undefined): PssBreakdown {
  return {
    timingStability: breakdown?.timingStability ?? 0,
    memoryStability: breakdown?.memoryStability ?? 0,
    errorVolatility: breakdown?.errorVolatility ?? 0,
    branchingEntropy: breakdown?.branchingEntropy ?? 0,
    concurrencyChaos: breakdown?.concurrencyChaos ?? 0,
  };
}

function batchOptionsOf(options: ConnectCollectorOptions): BatchOptions {
  const out: Record<string, unknown> = {};
  for (const key of BATCH_OPTION_KEYS) {
    const value = (options as unknown as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out as BatchOptions;
}

/**
 * Codes for which sending the same batch again cannot succeed: the token
 * is wrong, or the batch is over the agent's limits or not understood.
 */
const HOPELESS = new Set<Code>([
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.InvalidArgument,
  Code.ResourceExhausted,
  Code.Unimplemented,
]);

/**
 * A failed call as the batching engine needs to see it: permanent when
 * retrying cannot help; in doubt when the call was sent and its deadline
 * passed, since the agent may have stored the batch (a retry then finds it
 * stored, by its batch id); otherwise as it is, to be retried.
 */
function classified(error: unknown): unknown {
  const connectError = ConnectError.from(error);
  if (HOPELESS.has(connectError.code)) {
    return new PermanentExportError(connectError.message, { cause: error });
  }
  if (connectError.code === Code.DeadlineExceeded) {
    return new ExportInDoubtError(connectError.message, { cause: error });
  }
  return error;
}

function checkBaseUrl(owner: string, value: unknown): string {
  if (typeof value !== "string") {
    throw new PssConfigError(
      "baseUrl",
      value,
      `${owner}'s 'baseUrl' must be an http(s) URL string`,
    );
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PssConfigError(
      "baseUrl",
      value,
      `${owner}'s 'baseUrl' must be an http(s) URL`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new PssConfigError(
      "baseUrl",
      value,
      `${owner}'s 'baseUrl' must be an http(s) URL`,
    );
  }
  return value.replace(/\/+$/, "");
}

function checkHeaders(owner: string, value: unknown): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new PssConfigError(
      "headers",
      value,
      `${owner}'s 'headers' must be an object of strings`,
    );
  }
  const out: Record<string, string> = {};
  for (const [key, header] of Object.entries(value)) {
    if (typeof header !== "string") {
      throw new PssConfigError(
        `headers.${key}`,
        header,
        `${owner}'s header '${key}' must be a string`,
      );
    }
    out[key] = header;
  }
  return out;
}
