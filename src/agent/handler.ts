/**
 * The agent's request handler: `pss.v1.TraceService` (SubmitTraces,
 * GetScore) and pypss's `pypss.TraceService` (SubmitTrace) over Connect,
 * gRPC-web and gRPC, plus plain `GET /healthz` and `GET /score`.
 *
 * @module
 */

import {
  Code,
  ConnectError,
  type ConnectRouter,
  createConnectRouter,
  type HandlerContext,
} from "@connectrpc/connect";
import type {
  UniversalHandler,
  UniversalHandlerFn,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import type { Collector } from "../collect/collector.ts";
import type { Trace } from "../trace.ts";
import { computePss, computePssByName } from "../score/pss.ts";
import type { PssReport } from "../score/report.ts";
import { reportToJson } from "../report/json.ts";
import { checkKnownKeys, positiveInteger } from "../_options.ts";
import { PssConfigError } from "../score/config.ts";
import { messageOf } from "../_message.ts";
import {
  type Breakdown,
  type BreakdownSchema,
  type GetScoreResponseSchema,
  type RejectedTraceSchema,
  SubmitTracesResponseSchema,
  TraceService,
} from "../gen/pss/v1/trace_pb.ts";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { WireType } from "@bufbuild/protobuf/wire";
import { create, type DescMethodUnary, toBinary } from "@bufbuild/protobuf";
import {
  codeToHttpStatus,
  errorToJsonBytes,
} from "@connectrpc/connect/protocol-connect";
import {
  encodeEnvelopes,
  type EnvelopedMessage,
} from "@connectrpc/connect/protocol";
import {
  setTrailerStatus,
  trailerFlag,
  trailerSerialize,
} from "@connectrpc/connect/protocol-grpc-web";
import { BATCH_ID_HEADER, readTrace } from "../collect/_trace_wire.ts";
import { TraceService as PypssTraceService } from "../gen/pypss/trace_pb.ts";
import { traceFromMessage, traceFromPypss, traceFromRead } from "./_decode.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";

/** Reasons listed per refused batch; the count covers the rest. */
const MAX_LISTED_REJECTIONS = 100;

/**
 * Options of {@linkcode createAgentHandler}.
 *
 * @example
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { type AgentHandlerOptions, createAgentHandler } from "@pss/pss/agent";
 * import assert from "node:assert/strict";
 * const options: AgentHandlerOptions = {
 *   sink: new MemoryCollector({ maxTraces: 100_000 }),
 *   authToken: "s3cret",
 *   maxBatchTraces: 5000,
 *   maxBodyBytes: 1 << 20,
 * };
 * const handler = createAgentHandler(options);
 * assert.equal((await handler(new Request("http://agent/score"))).status, 401);
 * const authorized = { headers: { authorization: "Bearer s3cret" } };
 * assert.equal((await handler(new Request("http://agent/score", authorized))).status, 200);
 * ```
 */
export interface AgentHandlerOptions {
  /**
   * Where received traces go: any collector (memory, FIFO file, Redis).
   * `GetScore` and `/score` score what it holds (`sink.traces()`). The agent
   * waits for `sink.flush()` before it answers a submission, so an answer
   * means the sink has taken the traces.
   */
  sink: Collector;
  /**
   * When set, every call but `GET /healthz` must carry
   * `Authorization: Bearer <authToken>`; others get `unauthenticated`
   * (HTTP 401). Compared in constant time.
   * @default {undefined} (no authentication)
   */
  authToken?: string;
  /**
   * Most traces one `SubmitTraces` call may carry; a larger batch is
   * refused whole with `resource_exhausted`.
   * @default {10000}
   */
  maxBatchTraces?: number;
  /**
   * Largest request body, in bytes; a larger one is refused with
   * `resource_exhausted` without being read whole (a declared length is
   * refused before reading).
   * @default {4194304} (4 MiB)
   */
  maxBodyBytes?: number;
}

/**
 * Counters of an agent handler since it was created.
 *
 * @example
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { type AgentStats, createAgentHandler } from "@pss/pss/agent";
 * import assert from "node:assert/strict";
 * const handler = createAgentHandler({ sink: new MemoryCollector(), authToken: "s3cret" });
 * await handler(new Request("http://agent/score")); // no token
 * const stats: AgentStats = handler.stats();
 * assert.deepEqual([stats.accepted, stats.rejected, stats.unauthenticated], [0, 0, 1]);
 * ```
 */
export interface AgentStats {
  /** Traces stored in the sink. */
  accepted: number;
  /** Traces refused as malformed (NaN, negative or absurd values). */
  rejected: number;
  /** Whole batches refused for carrying more than `maxBatchTraces`. */
  batchesTooLarge: number;
  /** Requests refused for a missing or wrong token. */
  unauthenticated: number;
  /**
   * Submissions answered without storing anything, because they repeat a
   * batch already stored (same `pss-batch-id`): a client's retry after its
   * deadline passed while the agent was still storing the first attempt.
   */
  duplicateBatches: number;
}

/**
 * A fetch handler, `(Request) => Promise<Response>`, with the agent's
 * counters.
 *
 * @example
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { type AgentHandler, createAgentHandler } from "@pss/pss/agent";
 * import assert from "node:assert/strict";
 * const handler: AgentHandler = createAgentHandler({ sink: new MemoryCollector() });
 * const response = await handler(new Request("http://agent/healthz"));
 * assert.equal(response.status, 200);
 * ```
 */
export interface AgentHandler {
  /** Answers one HTTP request. Never rejects. */
  (request: Request): Promise<Response>;
  /** The agent's counters. */
  stats(): AgentStats;
}

/** The handler and what the servers of `serveAgent` need from it. */
export interface AgentCore {
  /** The fetch handler. */
  handler: AgentHandler;
  /** The same routes as a universal handler (for the HTTP/2 gRPC server). */
  universal: UniversalHandlerFn;
}

const OPTION_KEYS = ["sink", "authToken", "maxBatchTraces", "maxBodyBytes"];

/**
 * Creates the agent's fetch handler: it receives traces over Connect,
 * gRPC-web (and gRPC, where the server speaks HTTP/2 with trailers), stores
 * them in `sink`, and scores what the sink holds. Mount it on
 * `Deno.serve`, `Bun.serve`, or any framework that takes a fetch handler;
 * {@linkcode serveAgent} does it for you.
 *
 * Routes: `POST /pss.v1.TraceService/SubmitTraces`,
 * `POST /pss.v1.TraceService/GetScore`, `POST /pypss.TraceService/SubmitTrace`,
 * `GET /healthz` (always open) and `GET /score` (the JSON report of the
 * command line; `?by_name=1` adds per-name scores, `?name=a&name=b` limits
 * it to some names).
 *
 * Each trace of a batch is checked on its own: one with NaN, negative or
 * absurd values is refused, counted and reported back by index, and the
 * rest of the batch is kept.
 *
 * @param options See {@linkcode AgentHandlerOptions}.
 * @returns The handler.
 * @throws {PssConfigError} For a missing sink or a bad option.
 *
 * @example Mount it on a server of your own
 * ```ts ignore
 * import { MemoryCollector } from "@pss/pss";
 * import { createAgentHandler } from "@pss/pss/agent";
 * const handler = createAgentHandler({ sink: new MemoryCollector({ maxTraces: 100_000 }) });
 * Deno.serve({ port: 7411 }, handler);
 * ```
 *
 * @example Score what it holds, without a server
 * ```ts
 * import { MemoryCollector } from "@pss/pss";
 * import { createAgentHandler } from "@pss/pss/agent";
 * import assert from "node:assert/strict";
 * const sink = new MemoryCollector();
 * sink.add({ name: "op", duration: 0.1 });
 * const handler = createAgentHandler({ sink });
 * const report = await (await handler(new Request("http://agent/score"))).json();
 * assert.deepEqual([report.pss, report.counts.traces], [100, 1]);
 * ```
 */
export function createAgentHandler(options: AgentHandlerOptions): AgentHandler {
  return createAgentCore(options).handler;
}

/**
 * Creates the handler and its universal form (used by `serveAgent`).
 *
 * @param options See {@linkcode AgentHandlerOptions}.
 * @returns Both forms of the handler.
 */
export function createAgentCore(options: AgentHandlerOptions): AgentCore {
  checkKnownKeys("createAgentHandler", options, OPTION_KEYS);
  const sink = options?.sink;
  if (
    sink === null || typeof sink !== "object" ||
    typeof sink.add !== "function" || typeof sink.traces !== "function" ||
    typeof sink.flush !== "function"
  ) {
    throw new PssConfigError(
      "sink",
      sink,
      "createAgentHandler's 'sink' must be a collector (add, flush, traces)",
    );
  }
  const authToken = options.authToken;
  if (
    authToken !== undefined &&
    (typeof authToken !== "string" || authToken === "")
  ) {
    throw new PssConfigError(
      "authToken",
      authToken,
      "createAgentHandler's 'authToken' must be a non-empty string",
    );
  }
  const maxBatchTraces = positiveInteger(
    "createAgentHandler",
    "maxBatchTraces",
    options.maxBatchTraces ?? 10_000,
  );
  const maxBodyBytes = positiveInteger(
    "createAgentHandler",
    "maxBodyBytes",
    options.maxBodyBytes ?? 4 * 1024 * 1024,
  );

  const stats: AgentStats = {
    accepted: 0,
    rejected: 0,
    batchesTooLarge: 0,
    unauthenticated: 0,
    duplicateBatches: 0,
  };
  const authorized = authToken === undefined
    ? undefined
    : createTokenCheck(authToken);

  const routerOptions = {
    readMaxBytes: maxBodyBytes,
    // Plain curl users post JSON without Connect's version header.
    requireConnectProtocolHeader: false,
    requestGate: authorized === undefined
      ? undefined
      : (context: HandlerContext) =>
        requireToken(
          authorized,
          context.requestHeader.get("authorization"),
          stats,
        ),
  };
  // Two routers: binary requests (Connect, gRPC-web and gRPC with protobuf)
  // are decoded by the hand-written trace codec, JSON requests by
  // protobuf-es. Both answer the same paths.
  const state: ServiceState = {
    sink,
    maxBatchTraces,
    stats,
    recent: new RecentBatches(RECENT_BATCHES),
  };
  const binaryRouter = createConnectRouter(routerOptions);
  registerServices(binaryRouter, state, true);
  const jsonRouter = createConnectRouter(routerOptions);
  registerServices(jsonRouter, state, false);
  const binaryRoutes = new Map<string, UniversalHandler>();
  for (const route of binaryRouter.handlers) {
    binaryRoutes.set(route.requestPath, route);
  }
  const jsonRoutes = new Map<string, UniversalHandler>();
  for (const route of jsonRouter.handlers) {
    jsonRoutes.set(route.requestPath, route);
  }
  const routeFor = (
    path: string,
    contentType: string | null,
  ): UniversalHandler | undefined =>
    (contentType !== null && contentType.includes("json")
      ? jsonRoutes
      : binaryRoutes).get(path);

  const plain = async (request: Request, path: string): Promise<Response> => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return jsonResponse(405, { error: "method not allowed" }, {
        allow: "GET, HEAD",
      });
    }
    if (path === "/healthz") return jsonResponse(200, { status: "ok" });
    if (
      authorized !== undefined &&
      !(await authorized(request.headers.get("authorization")))
    ) {
      stats.unauthenticated++;
      return jsonResponse(401, { error: "missing or wrong bearer token" }, {
        "www-authenticate": 'Bearer realm="pss-agent"',
      });
    }
    const query = new URL(request.url).searchParams;
    const names = query.getAll("name");
    const byName = ["1", "true", "yes"].includes(query.get("by_name") ?? "");
    try {
      const traces = await readSink(sink, names);
      const report = computePss(traces);
      return jsonResponse(
        200,
        reportToJson(
          report,
          byName ? { byName: computePssByName(traces) } : {},
        ),
      );
    } catch (error) {
      return jsonResponse(503, {
        error: `cannot read the sink: ${messageOf(error)}`,
      });
    }
  };

  const accept = createAccept(state);
  const handler = (async (request: Request): Promise<Response> => {
    try {
      const path = pathOf(request.url);
      if (path === SUBMIT_PATH) {
        const direct = directProtocol(request, maxBodyBytes);
        if (direct === "connect") {
          return await submitConnectProto(request, accept, authorized, stats);
        }
        if (direct === "grpc-web") {
          return await submitGrpcWebProto(request, accept, authorized, stats);
        }
      }
      const route = routeFor(path, request.headers.get("content-type"));
      if (route !== undefined) {
        return await fetchResponseOf(
          await invalidArgumentForParseErrors(
            await route(await universalRequestOf(request, maxBodyBytes)),
          ),
        );
      }
      if (path === "/healthz" || path === "/score") {
        return await plain(request, path);
      }
      return jsonResponse(404, { error: `no route ${path}` });
    } catch (error) {
      return jsonResponse(500, { error: messageOf(error) });
    }
  }) as AgentHandler;
  handler.stats = () => ({ ...stats });

  const universal: UniversalHandlerFn = async (
    request: UniversalServerRequest,
  ): Promise<UniversalServerResponse> => {
    const route = routeFor(
      pathOf(request.url),
      request.header.get("content-type"),
    );
    if (route === undefined) return { status: 404 };
    return await invalidArgumentForParseErrors(await route(request));
  };
  return { handler, universal };
}

const SUBMIT_PATH = "/pss.v1.TraceService/SubmitTraces";

/**
 * Whether a request is the common `SubmitTraces` call of a
 * `ConnectCollector`, and over which protocol: Connect's unary protocol or
 * gRPC-web, with binary protobuf, not compressed, with a declared length
 * within the limit. Those are answered by {@linkcode submitConnectProto}
 * and {@linkcode submitGrpcWebProto} without the router, whose fixed cost
 * per call (contexts, abort signals, async iterables, a view per trace)
 * is larger than the whole transfer of a batch; everything else (JSON,
 * gRPC-web text, compression, a streamed body) goes through the router.
 */
function directProtocol(
  request: Request,
  maxBodyBytes: number,
): "connect" | "grpc-web" | undefined {
  if (request.method !== "POST" || request.body === null) return undefined;
  const headers = request.headers;
  const declared = headers.get("content-length");
  const length = declared === null ? NaN : Number(declared);
  if (!Number.isSafeInteger(length) || length < 0 || length > maxBodyBytes) {
    return undefined;
  }
  const type = headers.get("content-type")?.toLowerCase();
  if (type === "application/proto") {
    const encoding = headers.get("content-encoding");
    if (encoding !== null && encoding.toLowerCase() !== "identity") {
      return undefined;
    }
    const version = headers.get("connect-protocol-version");
    return version === null || version === "1" ? "connect" : undefined;
  }
  if (
    type === "application/grpc-web" || type === "application/grpc-web+proto"
  ) {
    const encoding = headers.get("grpc-encoding");
    return encoding === null || encoding.toLowerCase() === "identity"
      ? "grpc-web"
      : undefined;
  }
  return undefined;
}

/** One trace of a request body: where its bytes are. */
interface TraceSpan {
  start: number;
  end: number;
}

/**
 * Refuses a call without the bearer token, counted.
 *
 * @throws {ConnectError} `unauthenticated`.
 */
async function requireToken(
  authorized: ((header: string | null) => Promise<boolean>) | undefined,
  header: string | null,
  stats: AgentStats,
): Promise<void> {
  if (authorized === undefined || await authorized(header)) return;
  stats.unauthenticated++;
  throw new ConnectError("missing or wrong bearer token", Code.Unauthenticated);
}

/** One trace of a binary request, or why it is refused. */
function checkedTrace(
  bytes: Uint8Array,
  start: number,
  end: number,
): Trace | string {
  try {
    return traceFromRead(readTrace(bytes, start, end));
  } catch (error) {
    return `not a valid pss.v1.Trace: ${messageOf(error)}`;
  }
}

/**
 * The work both direct paths share, as the router would do it: the token
 * checked, the body read and unwrapped (`unwrap` gives the message), each
 * trace checked on its own and stored; the encoded answer.
 *
 * @throws {ConnectError} For the token, the limits or malformed bytes.
 */
async function submitDirect(
  request: Request,
  unwrap: (body: Uint8Array) => Uint8Array,
  accept: Accept,
  authorized: ((header: string | null) => Promise<boolean>) | undefined,
  stats: AgentStats,
): Promise<Uint8Array> {
  await requireToken(authorized, request.headers.get("authorization"), stats);
  const message = unwrap(new Uint8Array(await request.arrayBuffer()));
  const answer = await accept(
    traceSpans(message),
    ({ start, end }) => checkedTrace(message, start, end),
    request.headers.get(BATCH_ID_HEADER),
  );
  return toBinary(
    SubmitTracesResponseSchema,
    create(SubmitTracesResponseSchema, answer),
  );
}

/**
 * `SubmitTraces` over Connect's unary protocol with binary protobuf, as
 * the router would answer it: the same checks (token, limits, each trace
 * on its own), the same counts, the same error codes and JSON error body.
 */
async function submitConnectProto(
  request: Request,
  accept: Accept,
  authorized: ((header: string | null) => Promise<boolean>) | undefined,
  stats: AgentStats,
): Promise<Response> {
  try {
    const answer = await submitDirect(
      request,
      (body) => body,
      accept,
      authorized,
      stats,
    );
    return new Response(answer as Uint8Array<ArrayBuffer>, {
      status: 200,
      headers: { "content-type": "application/proto" },
    });
  } catch (error) {
    const connectError = ConnectError.from(error);
    return new Response(
      errorToJsonBytes(connectError, {}) as Uint8Array<ArrayBuffer>,
      {
        status: codeToHttpStatus(connectError.code),
        headers: { "content-type": "application/json" },
      },
    );
  }
}

/**
 * `SubmitTraces` over gRPC-web with binary protobuf, as the router would
 * answer it: one message in, the answer and a trailer out; an error as a
 * trailer with its status (HTTP 200, as gRPC-web has it).
 */
async function submitGrpcWebProto(
  request: Request,
  accept: Accept,
  authorized: ((header: string | null) => Promise<boolean>) | undefined,
  stats: AgentStats,
): Promise<Response> {
  const trailer = new Headers();
  const envelopes: EnvelopedMessage[] = [];
  try {
    const answer = await submitDirect(
      request,
      onlyEnvelope,
      accept,
      authorized,
      stats,
    );
    envelopes.push({ flags: 0, data: answer });
    setTrailerStatus(trailer, undefined);
  } catch (error) {
    setTrailerStatus(trailer, ConnectError.from(error));
  }
  envelopes.push({ flags: trailerFlag, data: trailerSerialize(trailer) });
  return new Response(
    encodeEnvelopes(...envelopes) as Uint8Array<ArrayBuffer>,
    {
      status: 200,
      headers: { "content-type": "application/grpc-web+proto" },
    },
  );
}

/**
 * The message of a unary gRPC-web request: exactly one uncompressed
 * envelope.
 *
 * @throws {ConnectError} `invalid_argument` for anything else.
 */
function onlyEnvelope(body: Uint8Array): Uint8Array {
  if (body.length < 5) {
    throw new ConnectError(
      "protocol error: incomplete envelope",
      Code.InvalidArgument,
    );
  }
  const length = new DataView(body.buffer, body.byteOffset, 5).getUint32(1);
  if (body[0] !== 0 || 5 + length !== body.length) {
    throw new ConnectError(
      body[0] !== 0
        ? "protocol error: a compressed or flagged message without grpc-encoding"
        : "protocol error: a unary request holds exactly one message",
      Code.InvalidArgument,
    );
  }
  return body.subarray(5);
}

/**
 * Where each trace (field 1) of a `SubmitTracesRequest` is; other fields
 * are skipped, as protobuf requires.
 *
 * @throws {ConnectError} `invalid_argument` when the bytes are not a
 * message.
 */
function traceSpans(body: Uint8Array): TraceSpan[] {
  const spans: TraceSpan[] = [];
  let pos = 0;
  const end = body.length;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw malformed("truncated varint");
      const byte = body[pos++];
      if (i < 8) result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw malformed("varint longer than 10 bytes");
  };
  while (pos < end) {
    const tag = varint();
    const wireType = tag % 8;
    const no = (tag - wireType) / 8;
    if (no === 0) throw malformed("illegal tag: field no 0");
    switch (wireType) {
      case 0:
        varint();
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const length = varint();
        if (length > end - pos) throw malformed("premature EOF");
        if (no === 1) spans.push({ start: pos, end: pos + length });
        pos += length;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw malformed(`cannot skip wire type ${wireType}`);
    }
    if (pos > end) throw malformed("premature EOF");
  }
  return spans;
}

function malformed(detail: string): ConnectError {
  return new ConnectError(
    `${PARSE_ERROR}: ${detail}`,
    Code.InvalidArgument,
  );
}

interface ServiceState {
  sink: Collector;
  maxBatchTraces: number;
  stats: AgentStats;
  recent: RecentBatches;
}

/** Batch ids remembered: at 500 traces a batch, the last 2 million traces. */
const RECENT_BATCHES = 4096;

/** What a batch id may be: 1 to 128 visible ASCII characters. */
const BATCH_ID = /^[\x21-\x7e]{1,128}$/;

type SubmitAnswer = MessageInitShape<typeof SubmitTracesResponseSchema>;

/**
 * The answers to the batches stored lately, by batch id, oldest first: a
 * retry of one of them (its client gave up waiting while the agent was
 * still storing it) gets the same answer once the sink has flushed, and
 * nothing is stored twice.
 */
class RecentBatches {
  readonly #answers = new Map<string, SubmitAnswer>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get(id: string): SubmitAnswer | undefined {
    return this.#answers.get(id);
  }

  remember(id: string, answer: SubmitAnswer): void {
    if (this.#answers.size >= this.#limit) {
      const oldest = this.#answers.keys().next();
      if (!oldest.done) this.#answers.delete(oldest.value);
    }
    this.#answers.set(id, answer);
  }
}

/**
 * The batch id of a submission, `undefined` without one.
 *
 * @throws {ConnectError} `invalid_argument` for a malformed id.
 */
function batchIdOf(header: string | null): string | undefined {
  if (header === null) return undefined;
  if (!BATCH_ID.test(header)) {
    throw new ConnectError(
      `the ${BATCH_ID_HEADER} header must be 1 to 128 visible ASCII characters`,
      Code.InvalidArgument,
    );
  }
  return header;
}

/** `SubmitTraces` as the binary router reads it: every trace left encoded. */
const RAW_SUBMIT_TRACES = {
  ...TraceService.method.submitTraces,
  input: EmptySchema,
} as unknown as DescMethodUnary<
  typeof EmptySchema,
  typeof SubmitTracesResponseSchema
>;

/** One trace of a raw request: its length prefix, then its bytes. */
interface RawTrace {
  data: Uint8Array;
  start: number;
}

/** How many bytes the varint at the start of `data` takes. */
function lengthPrefixSize(data: Uint8Array): number {
  let size = 0;
  while (size < data.length && data[size] & 0x80) size++;
  return size + 1;
}

/**
 * Checks and stores the traces of one submission; answers with the counts.
 * A submission that repeats a batch id already stored stores nothing: it
 * waits for the sink like the first and gets the first one's answer.
 */
type Accept = <T>(
  items: readonly T[],
  decode: (item: T) => Trace | string,
  batchIdHeader: string | null,
) => Promise<SubmitAnswer>;

function createAccept(state: ServiceState): Accept {
  const { sink, maxBatchTraces, stats, recent } = state;
  return async <T>(
    items: readonly T[],
    decode: (item: T) => Trace | string,
    batchIdHeader: string | null,
  ): Promise<SubmitAnswer> => {
    const batchId = batchIdOf(batchIdHeader);
    if (batchId !== undefined) {
      const earlier = recent.get(batchId);
      if (earlier !== undefined) {
        stats.duplicateBatches++;
        await sink.flush();
        return earlier;
      }
    }
    const count = items.length;
    if (count > maxBatchTraces) {
      stats.batchesTooLarge++;
      throw new ConnectError(
        `a batch may carry at most ${maxBatchTraces} traces: got ${count}`,
        Code.ResourceExhausted,
      );
    }
    const rejections: MessageInitShape<typeof RejectedTraceSchema>[] = [];
    let accepted = 0;
    let rejected = 0;
    for (let index = 0; index < count; index++) {
      const trace = decode(items[index]);
      if (typeof trace === "string") {
        rejected++;
        if (rejections.length < MAX_LISTED_REJECTIONS) {
          rejections.push({ index, reason: trace });
        }
        continue;
      }
      sink.add(trace);
      accepted++;
    }
    stats.accepted += accepted;
    stats.rejected += rejected;
    const answer = { accepted, rejected, rejections };
    // Remembered before waiting for the sink: a retry that comes while the
    // sink is still busy with this batch must not store it again.
    if (batchId !== undefined) recent.remember(batchId, answer);
    await sink.flush();
    return answer;
  };
}

function registerServices(
  router: ConnectRouter,
  state: ServiceState,
  binary: boolean,
): void {
  const { sink, stats } = state;
  const accept = createAccept(state);
  if (binary) {
    router.rpc(RAW_SUBMIT_TRACES, (request, context) => {
      const items: RawTrace[] = [];
      for (const field of request.$unknown ?? []) {
        if (field.no === 1 && field.wireType === WireType.LengthDelimited) {
          items.push({ data: field.data, start: lengthPrefixSize(field.data) });
        }
      }
      return accept(
        items,
        ({ data, start }) => checkedTrace(data, start, data.length),
        context.requestHeader.get(BATCH_ID_HEADER),
      );
    });
  } else {
    router.rpc(
      TraceService.method.submitTraces,
      (request, context) =>
        accept(
          request.traces,
          traceFromMessage,
          context.requestHeader.get(BATCH_ID_HEADER),
        ),
    );
  }
  router.rpc(
    TraceService.method.getScore,
    async (
      request,
    ): Promise<MessageInitShape<typeof GetScoreResponseSchema>> => {
      let traces: Trace[];
      try {
        traces = await readSink(sink, request.names);
      } catch (error) {
        throw new ConnectError(
          `cannot read the sink: ${messageOf(error)}`,
          Code.Unavailable,
        );
      }
      const report = computePss(traces);
      return {
        ...scoreFields(report),
        traceCount: report.traceCount,
        systemTraceCount: report.systemTraceCount,
        skippedCount: report.skippedCount,
        byName: request.byName
          ? computePssByName(traces).map(({ name, report }) => ({
            name,
            ...scoreFields(report),
            traceCount: report.traceCount,
          }))
          : [],
      };
    },
  );
  router.service(PypssTraceService, {
    async submitTrace(message) {
      const trace = traceFromPypss(message);
      if (typeof trace === "string") {
        stats.rejected++;
        return { success: false, message: trace };
      }
      sink.add(trace);
      stats.accepted++;
      await sink.flush();
      return { success: true, message: "" };
    },
  });
}

function scoreFields(
  report: PssReport,
): { pss: number; breakdown: MessageInitShape<typeof BreakdownSchema> } {
  const breakdown: Omit<Breakdown, "$typeName"> = { ...report.breakdown };
  return { pss: report.pss, breakdown };
}

/** What the sink holds, after its queue is flushed, limited to `names`. */
async function readSink(
  sink: Collector,
  names: readonly string[],
): Promise<Trace[]> {
  await sink.flush();
  const traces = await sink.traces();
  if (names.length === 0) return traces;
  const wanted = new Set(names);
  return traces.filter((trace) => trace.systemMetric || wanted.has(trace.name));
}

/** How Connect-ES words a request body it cannot decode as protobuf. */
const PARSE_ERROR = "parse binary";

/**
 * Connect-ES answers a request body that is not valid protobuf with
 * `internal` (as if the server were at fault); the agent answers
 * `invalid_argument`, as it does for malformed JSON. The error is found in
 * each protocol's place: the JSON body (Connect), the trailers (gRPC) or
 * the trailer frame (gRPC-web). Only error responses are rewritten, and
 * they are small.
 */
async function invalidArgumentForParseErrors(
  response: UniversalServerResponse,
): Promise<UniversalServerResponse> {
  const type = response.header?.get("content-type") ?? "";
  if (response.status === 500 && type.startsWith("application/json")) {
    const text = new TextDecoder().decode(await collect(response.body));
    try {
      const error = JSON.parse(text);
      if (
        error.code === "internal" &&
        String(error.message).startsWith(PARSE_ERROR)
      ) {
        error.code = "invalid_argument";
        const body = new TextEncoder().encode(JSON.stringify(error));
        response.header?.set("content-length", String(body.length));
        return { ...response, status: 400, body: once(body) };
      }
    } catch {
      // Not Connect's error body: leave it.
    }
    return { ...response, body: once(text) };
  }
  const trailer = response.trailer;
  if (
    trailer?.get("grpc-status") === "13" &&
    decodeURIComponent(trailer.get("grpc-message") ?? "").startsWith(
      PARSE_ERROR,
    )
  ) {
    trailer.set("grpc-status", "3");
  }
  const header = response.header;
  if (
    header?.get("grpc-status") === "13" &&
    decodeURIComponent(header.get("grpc-message") ?? "").startsWith(
      PARSE_ERROR,
    )
  ) {
    header.set("grpc-status", "3");
  }
  if (type.startsWith("application/grpc-web") && response.body !== undefined) {
    const bytes = await collect(response.body);
    // One envelope: flags (0x80 marks trailers), length, then the data.
    if (bytes.length >= 5 && bytes[0] === 0x80) {
      const text = new TextDecoder().decode(bytes.subarray(5));
      if (
        /grpc-status: ?13\r\n/.test(text) &&
        /grpc-message: ?parse binary/.test(decodeURIComponent(text))
      ) {
        const fixed = new TextEncoder().encode(
          text.replace(/grpc-status: ?13/, "grpc-status: 3"),
        );
        const out = new Uint8Array(5 + fixed.length);
        out[0] = 0x80;
        new DataView(out.buffer).setUint32(1, fixed.length);
        out.set(fixed, 5);
        return { ...response, body: once(out) };
      }
    }
    return { ...response, body: once(bytes) };
  }
  return response;
}

async function collect(
  body: AsyncIterable<Uint8Array> | undefined,
): Promise<Uint8Array> {
  if (body === undefined) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    length += chunk.length;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

async function* once(data: string | Uint8Array): AsyncGenerator<Uint8Array> {
  yield typeof data === "string" ? new TextEncoder().encode(data) : data;
}

/**
 * Connect's universal response as a fetch response. Every route is unary,
 * so the body is small and complete: it is handed over as bytes (a known
 * length) rather than as a stream, which the runtimes' servers would pull
 * chunk by chunk and send chunked.
 */
async function fetchResponseOf(
  response: UniversalServerResponse,
): Promise<Response> {
  const body = response.body === undefined
    ? null
    : await collect(response.body) as Uint8Array<ArrayBuffer>;
  return new Response(body, {
    status: response.status,
    headers: response.header,
  });
}

/** Never aborts: unary calls finish on their own. */
const NEVER = new AbortController().signal;

/**
 * A fetch request as Connect's universal request. Unlike Connect's own
 * conversion it does not follow `request.signal`, which Deno aborts after
 * every successful response (and warns about once per process). A body of
 * a declared length within `maxBodyBytes` is read in one go (the runtime
 * reads it natively); any other body is streamed to Connect, which stops
 * at the limit.
 */
async function universalRequestOf(
  request: Request,
  maxBodyBytes: number,
): Promise<UniversalServerRequest> {
  const declared = request.headers.get("content-length");
  const length = declared === null ? NaN : Number(declared);
  if (
    request.body !== null && Number.isSafeInteger(length) && length >= 0 &&
    length <= maxBodyBytes
  ) {
    return {
      httpVersion: "1.1",
      method: request.method,
      url: request.url,
      header: request.headers,
      body: once(new Uint8Array(await request.arrayBuffer())),
      signal: NEVER,
    };
  }
  const reader = request.body?.getReader();
  const body: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        if (reader === undefined) return { done: true, value: undefined };
        const chunk = await reader.read();
        return chunk.done ? { done: true, value: undefined } : chunk;
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        await reader?.cancel().catch(() => {});
        return { done: true, value: undefined };
      },
    }),
  };
  return {
    httpVersion: "1.1",
    method: request.method,
    url: request.url,
    header: request.headers,
    body,
    signal: NEVER,
  };
}

function pathOf(url: string): string {
  // Cheaper than new URL() on every RPC: skip scheme and authority.
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const end = url.indexOf("?", start);
  return end < 0 ? url.slice(start) : url.slice(start, end);
}

function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/**
 * A constant-time check of `Authorization: Bearer <token>`: both sides are
 * hashed (SHA-256) and the digests compared in full, so neither the length
 * nor the first differing byte shows in the timing.
 */
function createTokenCheck(
  token: string,
): (header: string | null) => Promise<boolean> {
  const encoder = new TextEncoder();
  const expected = crypto.subtle.digest("SHA-256", encoder.encode(token));
  return async (header) => {
    const given = header !== null && header.startsWith("Bearer ")
      ? header.slice(7).trim()
      : "";
    const [a, b] = await Promise.all([
      expected,
      crypto.subtle.digest("SHA-256", encoder.encode(given)),
    ]);
    const x = new Uint8Array(a);
    const y = new Uint8Array(b);
    let diff = given === "" ? 1 : 0;
    for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
    return diff === 0;
  };
}
