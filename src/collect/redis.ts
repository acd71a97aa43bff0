/**
 * Ships traces to Redis so that many workers (processes, hosts, runtimes,
 * pypss included) feed one scorer.
 *
 * Each trace is stored as one pypss JSON document (snake_case keys, seconds
 * and bytes), so pypss's own readers work on the same key:
 *
 * - `mode: "list"` (the default): `RPUSH key <json> <json> …`, one command
 *   per batch, read back with `LRANGE`.
 * - `mode: "stream"`: `XADD key [MAXLEN ~ n] * trace <json>` per trace, one
 *   `MULTI`/`EXEC` transaction per batch, for consumers that want consumer
 *   groups (`XREADGROUP`). Read back with `XRANGE`.
 *
 * Imported from `@pss/pss/redis` so that users of the core never load the
 * Redis client.
 *
 * @module
 */

import { createClient } from "redis";
import { stringifyTrace, traceFromJson } from "../trace.ts";
import type { Trace } from "../trace.ts";
import { PssConfigError } from "../score/config.ts";
import { type TimerHandle, unrefTimer } from "../runtime/timer.ts";
import { BatchCollector } from "./batch.ts";
import type { BatchCollectorStats, BatchOptions } from "./batch.ts";
import type { RawEntry, TraceSource } from "./read.ts";

/**
 * Where a {@linkcode RedisCollector} writes: a list or a stream.
 *
 * @example
 * ```ts
 * import type { RedisMode } from "@pss/pss/redis";
 * const mode: RedisMode = "stream";
 * ```
 */
export type RedisMode = "list" | "stream";

/**
 * What a {@linkcode RedisCollector} needs of a Redis client: the subset of a
 * node-redis v5 client (`createClient()` from `redis`) it uses, so any such
 * client can be passed as `client`. The client must also be an event
 * emitter (`on`/`off` for `"error"` and `"ready"`), as node-redis clients
 * are; that part is checked at run time because node-redis's own typings
 * of it do not resolve without `@types/node`.
 *
 * @example Share one client between the collector and the application
 * ```ts
 * import { createClient } from "redis";
 * import { RedisCollector } from "@pss/pss/redis";
 * const client = createClient({ disableOfflineQueue: true });
 * client.on("error", () => {}); // the collector reports errors too
 * await client.connect();
 * const collector = new RedisCollector({ client, key: "myapp:example:client" });
 * await collector.close(); // leaves the client open
 * client.destroy();
 * ```
 */
export interface RedisClientLike {
  /** Whether the client is open (connected or reconnecting). */
  readonly isOpen: boolean;
  /** Whether the connection is up and ready for commands. */
  readonly isReady: boolean;
  /** Opens the connection (retrying per the client's reconnect strategy). */
  connect(): Promise<unknown>;
  /** Sends one raw command, for example `["RPUSH", key, value]`. */
  sendCommand(args: string[]): Promise<unknown>;
  /** Closes the connection at once, rejecting pending commands. */
  destroy(): void;
  /** Lets the process exit while the connection is open. */
  unref(): void;
}

/** The event-emitter part of a node-redis client. */
interface Emitter {
  on(event: string, listener: (value: unknown) => void): unknown;
  off(event: string, listener: (value: unknown) => void): unknown;
}

function isEmitter(value: unknown): value is Emitter {
  return typeof (value as Emitter | null)?.on === "function" &&
    typeof (value as Emitter | null)?.off === "function";
}

/**
 * The default Redis URL (IPv4 loopback, so a Redis bound to 127.0.0.1 is
 * found even where `localhost` resolves to `::1` first).
 *
 * @example
 * ```ts
 * import { DEFAULT_REDIS_URL } from "@pss/pss/redis";
 * console.log(DEFAULT_REDIS_URL); // redis://127.0.0.1:6379
 * ```
 */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
/**
 * The default key, the one pypss's documentation uses, so pss and pypss
 * workers left at their defaults feed the same scorer.
 *
 * @example
 * ```ts
 * import { DEFAULT_REDIS_KEY } from "@pss/pss/redis";
 * console.log(DEFAULT_REDIS_KEY); // pypss:traces
 * ```
 */
export const DEFAULT_REDIS_KEY = "pypss:traces";
/**
 * The stream field that holds a trace's JSON in `mode: "stream"`.
 *
 * @example A consumer reading the stream by hand
 * ```ts
 * import { REDIS_STREAM_FIELD } from "@pss/pss/redis";
 * const fields: Record<string, string> = { trace: '{"name":"op"}' };
 * console.log(JSON.parse(fields[REDIS_STREAM_FIELD]).name); // op
 * ```
 */
export const REDIS_STREAM_FIELD = "trace";

/**
 * Options for {@linkcode RedisCollector}.
 *
 * @example
 * ```ts
 * import { RedisCollector, type RedisCollectorOptions } from "@pss/pss/redis";
 * const options: RedisCollectorOptions = { url: "redis://127.0.0.1:6379", key: "myapp:example:options", mode: "stream", maxLen: 100_000, batchSize: 200 };
 * await using collector = new RedisCollector(options);
 * collector.add({ name: "job", duration: 0.05 });
 * await collector.flush();
 * console.log((await collector.traces()).length); // 1
 * await collector.clear();
 * ```
 */
export interface RedisCollectorOptions extends BatchOptions {
  /**
   * How many queued traces send an `RPUSH` (or an `XADD` transaction)
   * without waiting for the timer. Larger than the engine's default because
   * each export costs one round trip and one export is in flight at a time;
   * pypss recommends 500 too.
   * @default {500}
   */
  batchSize?: number;
  /**
   * How many traces one `RPUSH` (or one `XADD` transaction) may carry when a
   * backlog has built up (a burst, a slow round trip, the end of an
   * outage, `flush()`): the backlog goes out in fewer round trips, so a
   * small `batchSize` still ships at pipelined speed. It is also what one
   * lost reply can store twice (see {@linkcode RedisCollector}).
   * @default {Math.max(batchSize, 1000)}
   */
  maxExportBatchSize?: number;
  /**
   * Where Redis is: `redis://[[user]:password@]host[:port][/db]`, or
   * `rediss://` for TLS. A URL that does not parse is a configuration error
   * (thrown); a host that does not answer is not (reported, retried).
   * Ignored when `client` is given.
   * @default {"redis://127.0.0.1:6379"}
   */
  url?: string;
  /**
   * An existing node-redis v5 client to use instead of creating one. The
   * collector opens it if it is not open, but never closes it: its owner
   * does. Create it with `disableOfflineQueue: true`, or batches sent during
   * an outage wait in the client's queue until `exportTimeoutMs`. It
   * reconnects by its own `reconnectStrategy`, whose waits (node-redis's
   * default included) keep the process alive during an outage.
   * @default {undefined}
   */
  client?: RedisClientLike;
  /**
   * The list or stream key traces go to. pypss workers writing to the same
   * key feed the same scorer.
   * @default {"pypss:traces"}
   */
  key?: string;
  /**
   * `"list"`: `RPUSH`, what pypss writes and reads. `"stream"`: `XADD` with
   * the trace's JSON in the field `trace`, for consumer groups.
   * @default {"list"}
   */
  mode?: RedisMode;
  /**
   * Keeps the key bounded: in a stream, `XADD … MAXLEN ~ maxLen` (Redis
   * trims approximately, in whole macro nodes); in a list, `LTRIM` to the
   * newest `maxLen` entries in the same transaction as the `RPUSH`.
   * Unbounded when not given.
   * @default {undefined}
   */
  maxLen?: number;
  /**
   * How long to wait for the TCP (and TLS) connection, per attempt.
   * @default {5000}
   */
  connectTimeoutMs?: number;
  /**
   * How many entries each `LRANGE`/`XRANGE` reads when reading back.
   * @default {1000}
   */
  readPageSize?: number;
}

/**
 * {@linkcode BatchCollectorStats} plus the connection state.
 *
 * @example
 * ```ts
 * import { RedisCollector, type RedisCollectorStats } from "@pss/pss/redis";
 * await using collector = new RedisCollector({ key: "myapp:example:stats" });
 * const stats: RedisCollectorStats = collector.stats();
 * if (!stats.connected) console.warn(`Redis is not ready yet: ${stats.lastError ?? "connecting"}`);
 * console.log(stats.added, stats.queued); // 0 0
 * ```
 */
export interface RedisCollectorStats extends BatchCollectorStats {
  /** Whether the connection to Redis is up and ready for commands now. */
  connected: boolean;
}

const NAME = "RedisCollector";
const RECONNECT_MAX_MS = 1000;
/** How long `close()` waits for a connection attempt it interrupts. */
const CLOSE_CONNECT_GRACE_MS = 1000;
/**
 * Traces per export when a backlog has built up, unless `batchSize` is
 * larger: ten round trips for 10,000 queued traces (as fast as pipelining
 * batches of 100, measured in bench/redis_bench.ts), while one `RPUSH` stays
 * a few hundred kilobytes.
 */
const DEFAULT_MAX_EXPORT = 1000;
const WARN_INTERVAL_MS = 10_000;

function configError(field: string, value: unknown, rule: string): never {
  throw new PssConfigError(
    field,
    value,
    `${NAME}'s '${field}' ${rule}`,
  );
}

function checkPositiveInteger(field: string, value: unknown): void {
  if (
    value !== undefined &&
    (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0)
  ) {
    configError(field, value, "must be a positive integer");
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return error.message ||
      (typeof code === "string" ? code : error.name);
  }
  return String(error);
}

/** The smallest stream id greater than `id` (`XRANGE` with `(` needs Redis 6.2). */
function nextStreamId(id: string): string {
  const dash = id.indexOf("-");
  const ms = id.slice(0, dash);
  const seq = BigInt(id.slice(dash + 1));
  return seq === 0xffff_ffff_ffff_ffffn
    ? `${BigInt(ms) + 1n}-0`
    : `${ms}-${seq + 1n}`;
}

/**
 * The wait before reconnection attempt `attempt` (0 for the first after a
 * failure): capped exponential backoff plus jitter, so workers that lost the
 * same Redis do not all come back in the same millisecond.
 */
function reconnectDelayMs(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 10), RECONNECT_MAX_MS) +
    Math.floor(Math.random() * 100);
}

/**
 * Awaits `promise` while a ref'd timer keeps the process alive: the socket of
 * a client the collector created is unref'd, so an awaited read must not
 * let the event loop run dry.
 */
async function held<T>(promise: Promise<T>): Promise<T> {
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    return await promise;
  } finally {
    clearInterval(keepAlive);
  }
}

/**
 * Runs `commands` in one `MULTI`/`EXEC` transaction: all are applied or none.
 * They are queued synchronously, so no other command of a shared client can
 * slip between them.
 */
async function transaction(
  client: RedisClientLike,
  commands: string[][],
): Promise<void> {
  const sent = [client.sendCommand(["MULTI"])];
  for (const command of commands) sent.push(client.sendCommand(command));
  sent.push(client.sendCommand(["EXEC"]));
  const replies = await Promise.allSettled(sent);
  for (const reply of replies) {
    if (reply.status === "rejected") throw reply.reason;
  }
  const exec = (replies[replies.length - 1] as PromiseFulfilledResult<unknown>)
    .value;
  if (!Array.isArray(exec)) {
    throw new Error(`${NAME}: the transaction was aborted`);
  }
  for (const result of exec) {
    if (result instanceof Error) throw result;
  }
}

/**
 * The text of a stream entry: its `trace` field, else its fields as one JSON
 * object (so an entry written as flat `name`/`duration` fields reads as a
 * trace).
 */
function entryText(fields: unknown[]): string {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const field = String(fields[i]);
    if (field === REDIS_STREAM_FIELD) return String(fields[i + 1]);
    Object.defineProperty(record, field, {
      value: String(fields[i + 1]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return JSON.stringify(record);
}

/**
 * A collector that ships batches of traces to a Redis list (or stream) in
 * pypss's JSON format, so that workers on many hosts feed one scorer.
 *
 * `add` is synchronous and never throws; batches of `batchSize` (500) traces (or
 * whatever is queued every `flushIntervalMs`) go out as one `RPUSH`, and a
 * backlog in `RPUSH`es of up to `maxExportBatchSize` (1000). The
 * connection is opened at construction without blocking: a refused or lost
 * connection is reported through `onError` and `stats().lastError`, traces
 * keep queuing (up to `maxQueueSize`, beyond which they are dropped and
 * counted), the collector reconnects with backoff (up to 1 s between
 * attempts, also after a connection that was up drops) and failed batches
 * are retried, then dropped and counted in `stats().dropped.flushFailed`.
 * Neither the connection nor the reconnection timers keep the process
 * alive: a script that ends exits, after one last flush attempt, even when
 * Redis is down; only an awaited `flush()`, `close()` or read holds it
 * while it waits. One export is in flight at a time, so
 * batches are stored in order; an export whose reply is lost when the
 * connection breaks is sent again, so such a break can store that one export
 * (at most `maxExportBatchSize` traces) twice.
 *
 * `traces()` and `readRawEntries()` read the key back (with paged
 * `LRANGE`/`XRANGE`); unlike `add`, they reject when Redis cannot be read.
 * `close()` flushes, then disconnects a client the collector created.
 *
 * @example Ship traces, read them back
 * ```ts
 * import { RedisCollector } from "@pss/pss/redis";
 * await using collector = new RedisCollector({
 *   url: "redis://127.0.0.1:6379",
 *   key: "myapp:example:traces",
 * });
 * collector.add({ name: "db.query", duration: 0.012 });
 * await collector.flush();
 * console.log((await collector.traces()).length); // 1
 * await collector.clear();
 * ```
 *
 * @example One scorer reading what every worker wrote to a stream
 * ```ts
 * import { readTraces } from "@pss/pss";
 * import { RedisCollector } from "@pss/pss/redis";
 * await using source = new RedisCollector({
 *   key: "myapp:example:stream",
 *   mode: "stream",
 * });
 * const reader = readTraces(source);
 * for await (const trace of reader) console.log(trace.name);
 * console.log(reader.stats); // { read: 0, skipped: 0 }
 * ```
 */
export class RedisCollector extends BatchCollector implements TraceSource {
  readonly #client: RedisClientLike & Emitter;
  readonly #ownsClient: boolean;
  readonly #key: string;
  readonly #mode: RedisMode;
  readonly #maxLen: number | undefined;
  readonly #readPageSize: number;
  readonly #connectTimeoutMs: number;
  readonly #where: string;
  readonly #onError: ((error: unknown) => void) | undefined;
  #connectionError: string | undefined;
  #down = false;
  #lastWarnAt = -Infinity;
  #closing: Promise<void> | undefined;
  /** Set once `close()` has flushed: no more reconnection, no more reports. */
  #stopped = false;
  /** The connection attempt in progress (a client the collector created). */
  #connecting: Promise<void> | undefined;
  #reconnectTimer: TimerHandle | undefined;
  #reconnectAttempts = 0;
  readonly #listener = (error: unknown): void => {
    if (this.#stopped) return;
    this.#onConnectionError(error);
    // A connection that was up has dropped (node-redis, told not to
    // reconnect, has closed the client): try again at once, as node-redis
    // would, then back off. A failed attempt schedules its own retry.
    if (
      this.#ownsClient && !this.#client.isOpen && this.#connecting === undefined
    ) {
      this.#scheduleReconnect(0);
    }
  };
  readonly #readyListener = (): void => {
    this.#down = false;
    this.#reconnectAttempts = 0;
  };

  /**
   * Creates the collector and starts connecting (without waiting).
   *
   * @param options See {@linkcode RedisCollectorOptions} and
   * {@linkcode BatchCollectorOptions}.
   * @throws {PssConfigError} When an option is invalid: a `url` that does not
   * parse or is not `redis:`/`rediss:`, an empty `key`, an unknown `mode`, a
   * `maxLen`, `readPageSize`, `connectTimeoutMs` or batch option that is not
   * a positive integer, or both `url` and `client`.
   */
  constructor(options: RedisCollectorOptions = {}) {
    const key = options.key ?? DEFAULT_REDIS_KEY;
    if (typeof key !== "string" || key === "") {
      configError("key", key, "must be a non-empty string");
    }
    const mode = options.mode ?? "list";
    if (mode !== "list" && mode !== "stream") {
      configError("mode", mode, 'must be "list" or "stream"');
    }
    checkPositiveInteger("maxLen", options.maxLen);
    checkPositiveInteger("readPageSize", options.readPageSize);
    checkPositiveInteger("connectTimeoutMs", options.connectTimeoutMs);
    if (options.client !== undefined && options.url !== undefined) {
      configError("url", options.url, "cannot be given together with 'client'");
    }
    const url = options.url ?? DEFAULT_REDIS_URL;
    let where = url;
    if (options.client === undefined) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        configError("url", url, "must be a redis:// or rediss:// URL");
      }
      if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
        configError("url", url, "must be a redis:// or rediss:// URL");
      }
      // Never echo a password into messages.
      if (parsed.password !== "") parsed.password = "***";
      where = parsed.href;
    }

    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    let client: unknown = options.client;
    if (client === undefined) {
      try {
        client = createClient({
          url,
          disableOfflineQueue: true,
          socket: {
            connectTimeout: connectTimeoutMs,
            // node-redis sleeps between its own attempts on a ref'd timer,
            // which keeps Bun alive for as long as Redis is down: each
            // connect() makes one attempt and the collector schedules the
            // next on an unref'd timer (#scheduleReconnect).
            reconnectStrategy: false,
          },
        });
      } catch (error) {
        configError("url", url, `is not usable (${messageOf(error)})`);
      }
    } else {
      where = "the given client";
    }
    const usable = client as RedisClientLike | null;
    if (
      !isEmitter(client) || typeof usable?.sendCommand !== "function" ||
      typeof usable?.connect !== "function"
    ) {
      configError("client", client, "must be a node-redis v5 client");
    }

    const batchSize = options.batchSize ?? 500;
    const holder: { self?: RedisCollector } = {};
    const {
      url: _url,
      client: _client,
      key: _key,
      mode: _mode,
      maxLen: _maxLen,
      connectTimeoutMs: _connectTimeoutMs,
      readPageSize: _readPageSize,
      ...batch
    } = options;
    super({
      ...batch,
      exporter: { export: (b) => holder.self!.#flushBatch(b) },
      batchSize,
      maxExportBatchSize: options.maxExportBatchSize ??
        Math.max(batchSize, DEFAULT_MAX_EXPORT),
    }, NAME);

    holder.self = this;
    this.#ownsClient = options.client === undefined;
    this.#client = client as RedisClientLike & Emitter;
    this.#key = key;
    this.#mode = mode;
    this.#maxLen = options.maxLen;
    this.#readPageSize = options.readPageSize ?? 1000;
    this.#connectTimeoutMs = connectTimeoutMs;
    this.#where = where;
    this.#onError = options.onError;

    // node-redis emits 'error' on every failed (re)connection; an EventEmitter
    // without a listener would throw it into the host.
    const connection = this.#client;
    connection.on("error", this.#listener);
    connection.on("ready", this.#readyListener);
    if (this.#ownsClient) {
      // The socket must not keep the host alive; close() flushes what is left.
      connection.unref();
      this.#connect();
    } else if (!connection.isOpen) {
      // A given client reconnects by its own strategy: its owner's choice.
      connection.connect().catch((error: unknown) =>
        this.#onConnectionError(error)
      );
    }
  }

  /** One connection attempt of a client the collector created. */
  #connect(): void {
    const client = this.#client;
    if (this.#stopped || this.#connecting !== undefined || client.isOpen) {
      return;
    }
    let attempt: Promise<unknown>;
    try {
      attempt = client.connect();
    } catch (error) {
      attempt = Promise.reject(error);
    }
    this.#connecting = attempt.then(
      () => {
        this.#connecting = undefined;
        // Connected while close() was giving up on the attempt.
        if (this.#stopped) this.#destroyClient();
      },
      (error: unknown) => {
        this.#connecting = undefined;
        if (this.#stopped) return;
        this.#onConnectionError(error);
        this.#scheduleReconnect(reconnectDelayMs(this.#reconnectAttempts++));
      },
    );
  }

  /**
   * The next connection attempt, on an unref'd timer: an outage never keeps
   * the host alive (an awaited `flush()` or `close()` does, while it waits).
   */
  #scheduleReconnect(delayMs: number): void {
    if (this.#stopped || this.#reconnectTimer !== undefined) return;
    this.#reconnectTimer = unrefTimer(setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect();
    }, delayMs));
  }

  #destroyClient(): void {
    try {
      if (this.#client.isOpen) this.#client.destroy();
    } catch {
      // Already closed.
    }
  }

  /** The key traces are written to. */
  get key(): string {
    return this.#key;
  }

  /** Where traces are written: a list or a stream. */
  get mode(): RedisMode {
    return this.#mode;
  }

  /**
   * The batch counters plus whether Redis is connected. `lastError` also
   * reports connection failures that happened while nothing was being sent.
   *
   * @returns A fresh snapshot.
   *
   * @example Health check
   * ```ts
   * import { RedisCollector } from "@pss/pss/redis";
   * await using collector = new RedisCollector({ key: "myapp:example:stats" });
   * const { connected, dropped, lastError } = collector.stats();
   * console.log(connected, dropped.queueFull + dropped.flushFailed, lastError);
   * ```
   */
  override stats(): RedisCollectorStats {
    const stats = super.stats();
    return {
      ...stats,
      lastError: stats.lastError ?? this.#connectionError,
      connected: this.#client.isReady,
    };
  }

  #onConnectionError(error: unknown): void {
    const message = `${NAME} cannot reach Redis at ${this.#where}: ${
      messageOf(error)
    }`;
    this.#connectionError = message;
    // One report per outage: node-redis emits an error on every attempt.
    if (this.#down) return;
    this.#down = true;
    const report = new Error(message, { cause: error });
    if (this.#onError !== undefined) {
      try {
        this.#onError(report);
      } catch {
        // The host's hook failing must not break the collector.
      }
      return;
    }
    const now = Date.now();
    if (now - this.#lastWarnAt < WARN_INTERVAL_MS) return;
    this.#lastWarnAt = now;
    console.warn(`[pss] ${message}`);
  }

  #unreachable(): Error {
    return new Error(
      this.#connectionError ??
        `${NAME} cannot reach Redis at ${this.#where}: not connected`,
    );
  }

  /**
   * Resolves once the client is ready. Fails at once during a known outage;
   * before the first connection, waits for it (or its first failure).
   */
  #ready(): Promise<void> {
    const client = this.#client;
    if (client.isReady) return Promise.resolve();
    // A client the collector created is closed between attempts during an
    // outage (#down); only close() ends it for good.
    if (this.#stopped || (!this.#ownsClient && !client.isOpen)) {
      return Promise.reject(new Error(`${NAME} is closed`));
    }
    if (this.#down) return Promise.reject(this.#unreachable());
    return new Promise((resolve, reject) => {
      const settle = (error?: Error): void => {
        clearTimeout(timer);
        client.off("ready", onReady);
        client.off("error", onFailure);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onReady = (): void => settle();
      const onFailure = (): void => settle(this.#unreachable());
      const timer = unrefTimer(
        setTimeout(() => settle(this.#unreachable()), this.#connectTimeoutMs),
      );
      client.on("ready", onReady);
      client.on("error", onFailure);
    });
  }

  /**
   * Sends one batch: one `RPUSH` (with `LTRIM` in a transaction when
   * `maxLen` is set) or one `MULTI`/`XADD…`/`EXEC` transaction, so a batch
   * is stored whole or not at all.
   *
   * @param batch The traces to send, oldest first.
   * @returns Resolves when Redis has acknowledged the batch.
   * @throws {Error} When Redis is unreachable or refuses the batch; the base
   * class retries, then drops and counts.
   */
  async #flushBatch(batch: readonly Trace[]): Promise<void> {
    if (batch.length === 0) return;
    await this.#ready();
    const client = this.#client;
    const key = this.#key;
    const maxLen = this.#maxLen;
    if (this.#mode === "list") {
      const push = new Array<string>(batch.length + 2);
      push[0] = "RPUSH";
      push[1] = key;
      for (let i = 0; i < batch.length; i++) {
        push[i + 2] = stringifyTrace(batch[i]);
      }
      if (maxLen === undefined) {
        await client.sendCommand(push);
        return;
      }
      await transaction(client, [push, ["LTRIM", key, String(-maxLen), "-1"]]);
      return;
    }
    const head = maxLen === undefined
      ? ["XADD", key, "*"]
      : ["XADD", key, "MAXLEN", "~", String(maxLen), "*"];
    const commands = batch.map((trace) => [
      ...head,
      REDIS_STREAM_FIELD,
      stringifyTrace(trace),
    ]);
    await transaction(client, commands);
  }

  /**
   * Streams every stored entry's raw text with its position, oldest first,
   * reading `readPageSize` entries per request. In a stream, an entry
   * without a `trace` field is yielded as the JSON object of its fields (so
   * flat `name`/`duration` fields read as a trace).
   *
   * @returns The entries, as an async iterable.
   * @throws {Error} When Redis cannot be read (for example, the key holds
   * another type, or Redis is unreachable).
   *
   * @example
   * ```ts
   * import { RedisCollector } from "@pss/pss/redis";
   * const collector = new RedisCollector({ key: "myapp:example:raw" });
   * for await (const { text, position } of collector.readRawEntries()) {
   *   console.log(position, text.length);
   * }
   * await collector.close();
   * ```
   */
  async *readRawEntries(): AsyncGenerator<RawEntry, void, undefined> {
    await held(this.#ready());
    const client = this.#client;
    const key = this.#key;
    const page = this.#readPageSize;
    if (this.#mode === "list") {
      for (let start = 0;; start += page) {
        const reply = await held(client.sendCommand([
          "LRANGE",
          key,
          String(start),
          String(start + page - 1),
        ]));
        const items = Array.isArray(reply) ? reply : [];
        for (let i = 0; i < items.length; i++) {
          yield { text: String(items[i]), position: `index ${start + i}` };
        }
        if (items.length < page) return;
      }
    }
    let start = "-";
    for (;;) {
      const reply = await held(client.sendCommand([
        "XRANGE",
        key,
        start,
        "+",
        "COUNT",
        String(page),
      ]));
      const entries = Array.isArray(reply) ? reply : [];
      let lastId = start;
      for (const entry of entries) {
        const [id, fields] = entry as [string, unknown[]];
        lastId = String(id);
        yield { text: entryText(fields), position: `entry ${lastId}` };
      }
      if (entries.length < page) return;
      start = nextStreamId(lastId);
    }
  }

  /**
   * Reads every trace stored under the key, oldest first. Entries that are
   * not valid pypss JSON are skipped; `readTraces(collector)` counts them.
   *
   * @returns The traces.
   * @throws {Error} When Redis cannot be read.
   *
   * @example
   * ```ts
   * import { RedisCollector } from "@pss/pss/redis";
   * await using collector = new RedisCollector({ key: "myapp:example:read" });
   * console.log((await collector.traces()).length); // 0
   * ```
   */
  override async traces(): Promise<Trace[]> {
    const out: Trace[] = [];
    for await (const { text } of this.readRawEntries()) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        continue;
      }
      const trace = traceFromJson(value);
      if (trace !== undefined) out.push(trace);
    }
    return out;
  }

  /**
   * Flushes what is queued, then deletes the key (every trace under it,
   * whoever wrote it).
   *
   * @returns Resolves once the key is gone.
   * @throws {Error} When Redis is unreachable.
   *
   * @example
   * ```ts
   * import { RedisCollector } from "@pss/pss/redis";
   * await using collector = new RedisCollector({ key: "myapp:example:clear" });
   * collector.add({ name: "op" });
   * await collector.clear();
   * console.log((await collector.traces()).length); // 0
   * ```
   */
  override async clear(): Promise<void> {
    await this.flush();
    await held(this.#ready());
    await held(this.#client.sendCommand(["DEL", this.#key]));
  }

  /**
   * Flushes what is queued (retrying as configured), then disconnects the
   * client if the collector created it. Idempotent; never rejects.
   *
   * @returns Resolves when everything is sent or given up (and counted).
   *
   * @example
   * ```ts
   * import { RedisCollector } from "@pss/pss/redis";
   * const collector = new RedisCollector({ key: "myapp:example:close" });
   * collector.add({ name: "op" });
   * await collector.clear(); // keep the example's Redis clean
   * await collector.close();
   * await collector.close(); // idempotent
   * console.log(collector.stats().sent); // 1
   * ```
   */
  override close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    try {
      await super.close();
    } catch {
      // The base never rejects; this only guards the disconnect below.
    }
    this.#stopped = true;
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const client = this.#client;
    client.off("ready", this.#readyListener);
    if (!this.#ownsClient) {
      client.off("error", this.#listener);
      return;
    }
    // node-redis cannot destroy a socket that is still connecting (it would
    // connect afterwards, closed to node-redis but open to Redis): let an
    // attempt in progress finish, for a bounded time.
    const connecting = this.#connecting;
    if (connecting !== undefined) {
      let timer: TimerHandle | undefined;
      await Promise.race([
        connecting,
        new Promise<void>((resolve) => {
          timer = setTimeout(
            resolve,
            this.#connectTimeoutMs + CLOSE_CONNECT_GRACE_MS,
          );
        }),
      ]);
      clearTimeout(timer);
    }
    // Every batch is acknowledged or dropped by now, so nothing of ours is
    // pending: destroy() closes at once, even during an outage (close()
    // would wait for a connection that may never come back). The error
    // listener stays: node-redis may still report on a socket it is closing,
    // and an EventEmitter without one would throw that into the host.
    this.#destroyClient();
  }
}
