/**
 * Ships traces to Redis so that many workers (processes, hosts, runtimes,
 * pypss included) feed one scorer: the {@linkcode BatchCollector} engine over
 * an exporter that stores each batch exactly once.
 *
 * Each trace is stored as one pypss JSON document (snake_case keys, seconds
 * and bytes), so pypss's own readers work on the same key: `mode: "list"`
 * (the default) appends to a list (read back with `LRANGE`), `mode:
 * "stream"` adds stream entries with the JSON in the field `trace` (for
 * consumer groups; read back with `XRANGE`).
 *
 * Imported from `@pss/pss/redis` so that users of the core never load the
 * Redis client.
 *
 * @module
 */

import { createClient } from "redis";
import { traceFromJson } from "../trace.ts";
import type { Trace } from "../trace.ts";
import { PssConfigError } from "../score/config.ts";
import { BATCH_OPTION_KEYS, BatchCollector } from "./batch.ts";
import type { BatchCollectorStats, BatchOptions } from "./batch.ts";
import type { RawEntry, TraceSource } from "./read.ts";
import {
  clearKey,
  readEntries,
  RedisExporter,
  type RedisMode,
} from "./redis_store.ts";
import {
  type Emitter,
  isEmitter,
  type RedisClientLike,
  RedisConnection,
} from "./redis_connection.ts";
import { checkKnownKeys, positiveInteger } from "../_options.ts";
import { messageOf } from "../_message.ts";
import { createWarner } from "../_warn.ts";

export type { RedisClientLike } from "./redis_connection.ts";

export { REDIS_STREAM_FIELD, type RedisMode } from "./redis_store.ts";

/**
 * The default Redis URL (IPv4 loopback, so a Redis bound to 127.0.0.1 is
 * found even where `localhost` resolves to `::1` first).
 *
 * @example
 * ```ts
 * import { DEFAULT_REDIS_URL } from "@pss/pss/redis";
 * import assert from "node:assert/strict";
 * assert.equal(DEFAULT_REDIS_URL, "redis://127.0.0.1:6379");
 * ```
 */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
/**
 * The default key, the one pypss's documentation uses.
 *
 * @example
 * ```ts
 * import { DEFAULT_REDIS_KEY } from "@pss/pss/redis";
 * import assert from "node:assert/strict";
 * assert.equal(DEFAULT_REDIS_KEY, "pypss:traces");
 * ```
 */
export const DEFAULT_REDIS_KEY = "pypss:traces";
/**
 * Options for {@linkcode RedisCollector}.
 *
 * @example
 * ```ts ignore
 * import { RedisCollector, type RedisCollectorOptions } from "@pss/pss/redis";
 * const options: RedisCollectorOptions = { key: "myapp:traces", mode: "stream", maxLen: 100_000 };
 * await using collector = new RedisCollector(options);
 * ```
 */
export interface RedisCollectorOptions extends BatchOptions {
  /**
   * How many queued traces start an export without waiting for the timer.
   * @default {500}
   */
  batchSize?: number;
  /**
   * How many traces one export may carry when a backlog has built up.
   * @default {Math.max(batchSize, 1000)}
   */
  maxExportBatchSize?: number;
  /**
   * `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. A
   * URL that does not parse is a configuration error; a host that does not
   * answer is reported and retried. Not with `client`.
   * @default {"redis://127.0.0.1:6379"}
   */
  url?: string;
  /**
   * An existing node-redis v5 client (create it with `disableOfflineQueue:
   * true`). The collector opens it if needed but never closes it.
   * @default {undefined}
   */
  client?: RedisClientLike;
  /**
   * The list or stream key traces go to.
   * @default {"pypss:traces"}
   */
  key?: string;
  /**
   * `"list"` (what pypss writes and reads) or `"stream"`.
   * @default {"list"}
   */
  mode?: RedisMode;
  /**
   * Keeps the key bounded: the newest `maxLen` list entries (`LTRIM`), or
   * `XADD … MAXLEN ~ maxLen` (approximate) in a stream.
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
  /**
   * How long Redis remembers the id of a stored batch, in seconds: a retry
   * of that batch within this time stores nothing twice. Each batch leaves a
   * small key `<key>:pss-batch:<id>` for that long (on Redis Cluster, give
   * `key` a hash tag, `{traces}`, so both land on one node).
   * @default {3600}
   */
  batchIdTtlSeconds?: number;
}

/**
 * {@linkcode BatchCollectorStats} plus the connection state.
 *
 * @example
 * ```ts ignore
 * import { RedisCollector, type RedisCollectorStats } from "@pss/pss/redis";
 * await using collector = new RedisCollector({ key: "myapp:traces" });
 * const stats: RedisCollectorStats = collector.stats();
 * if (!stats.connected) console.warn(stats.connectionError ?? "connecting");
 * ```
 */
export interface RedisCollectorStats extends BatchCollectorStats {
  /** Whether Redis accepts our commands now (false while it refuses us). */
  connected: boolean;
  /** Why the connection is down, while it is. */
  connectionError: string | undefined;
}

const NAME = "RedisCollector";
const OWN_KEYS = [
  "url",
  "client",
  "key",
  "mode",
  "maxLen",
  "connectTimeoutMs",
  "readPageSize",
  "batchIdTtlSeconds",
];
/** Traces per export when a backlog has built up, unless `batchSize` is larger. */
const DEFAULT_MAX_EXPORT = 1000;

/**
 * A collector that ships batches of traces to a Redis list (or stream) in
 * pypss's JSON format, so that workers on many hosts feed one scorer.
 *
 * Each batch is stored by one atomic script call (`EVALSHA`) that appends it
 * only if its id is new, so a retry after a lost reply, a dropped
 * connection or an export abandoned while Redis was paused stores nothing
 * twice: a trace counted `sent` is in Redis exactly once. The connection is
 * opened without blocking and checked with `PING` (a wrong or missing
 * password reads as Redis's NOAUTH/WRONGPASS, and `stats().connected` stays
 * false); an outage is reported once, with its cause, and so is the
 * recovery; the collector reconnects on unref'd timers, so an outage never
 * keeps the process alive. On Deno, it needs `--allow-net`.
 *
 * @example Ship traces, read them back, flush on SIGTERM/SIGINT
 * ```ts ignore
 * import { flushOnSignals } from "@pss/pss";
 * import { RedisCollector } from "@pss/pss/redis";
 * import assert from "node:assert/strict";
 * await using collector = new RedisCollector({ key: "myapp:traces" });
 * const signals = flushOnSignals([collector]); // for the life of the program
 * collector.add({ name: "db.query", duration: 0.012 });
 * await collector.flush();
 * assert.ok((await collector.traces()).some((trace) => trace.name === "db.query"));
 * ```
 */
export class RedisCollector extends BatchCollector implements TraceSource {
  readonly #connection: RedisConnection;
  readonly #key: string;
  readonly #mode: RedisMode;
  readonly #readPageSize: number;

  /**
   * Creates the collector and starts connecting (without waiting).
   *
   * @param options See {@linkcode RedisCollectorOptions}.
   * @throws {PssConfigError} When an option is unknown or invalid (a `url`
   * that is not `redis:`/`rediss:`, an empty `key`, both `url` and
   * `client`, …).
   */
  constructor(options: RedisCollectorOptions = {}) {
    checkKnownKeys(NAME, options, [...BATCH_OPTION_KEYS, ...OWN_KEYS]);
    const {
      url: givenUrl,
      client: givenClient,
      key = DEFAULT_REDIS_KEY,
      mode = "list",
      maxLen,
      connectTimeoutMs = 5000,
      readPageSize = 1000,
      batchIdTtlSeconds = 3600,
      ...batch
    } = options;
    const fail = (field: string, value: unknown, rule: string): never => {
      throw new PssConfigError(field, value, `${NAME}'s '${field}' ${rule}`);
    };
    if (typeof key !== "string" || key === "") {
      fail("key", key, "must be a non-empty string");
    }
    if (mode !== "list" && mode !== "stream") {
      fail("mode", mode, 'must be "list" or "stream"');
    }
    if (maxLen !== undefined) positiveInteger(NAME, "maxLen", maxLen);
    positiveInteger(NAME, "readPageSize", readPageSize);
    positiveInteger(NAME, "connectTimeoutMs", connectTimeoutMs);
    positiveInteger(NAME, "batchIdTtlSeconds", batchIdTtlSeconds);
    if (givenClient !== undefined && givenUrl !== undefined) {
      fail("url", givenUrl, "cannot be given together with 'client'");
    }
    const url = givenUrl ?? DEFAULT_REDIS_URL;
    let where = "the given client";
    let client: unknown = givenClient;
    if (client === undefined) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        // Reported below.
      }
      if (parsed?.protocol !== "redis:" && parsed?.protocol !== "rediss:") {
        fail("url", url, "must be a redis:// or rediss:// URL");
      }
      parsed = parsed as URL;
      if (parsed.password !== "") parsed.password = "***"; // never echoed
      where = parsed.href;
      try {
        client = createClient({
          url,
          disableOfflineQueue: true,
          // node-redis sleeps between its own attempts on a ref'd timer,
          // which keeps Bun alive while Redis is down: the connection
          // reconnects on unref'd timers of its own instead.
          socket: {
            connectTimeout: connectTimeoutMs,
            reconnectStrategy: false,
          },
        });
      } catch (error) {
        fail("url", url, `is not usable (${messageOf(error)})`);
      }
    }
    const usable = client as RedisClientLike | null;
    if (
      !isEmitter(client) || typeof usable?.sendCommand !== "function" ||
      typeof usable?.connect !== "function"
    ) {
      fail("client", client, "must be a node-redis v5 client");
    }
    const warner = createWarner({ prefix: `[pss] ${NAME}` });
    const onError = batch.onError;
    const connection = new RedisConnection(
      client as RedisClientLike & Emitter,
      {
        owned: givenClient === undefined,
        where,
        connectTimeoutMs,
        events: {
          down: (error) => {
            if (onError === undefined) warner.warn("connection", error);
            else {
              try {
                onError(error);
              } catch {
                // The host's hook must not break the collector.
              }
            }
          },
          up: (message) => {
            if (onError === undefined) warner.warn("reconnected", message);
          },
        },
      },
    );
    const batchSize = batch.batchSize ?? 500;
    super({
      ...batch,
      batchSize,
      maxExportBatchSize: batch.maxExportBatchSize ??
        Math.max(batchSize, DEFAULT_MAX_EXPORT),
      exporter: new RedisExporter(
        connection,
        key,
        mode,
        maxLen,
        batchIdTtlSeconds,
      ),
    }, NAME);
    this.#connection = connection;
    connection.start(); // only once the options are known to be valid
    this.#key = key;
    this.#mode = mode;
    this.#readPageSize = readPageSize;
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
   * The batch counters plus whether Redis accepts commands now.
   *
   * @returns A fresh snapshot.
   */
  override stats(): RedisCollectorStats {
    return {
      ...super.stats(),
      connected: this.#connection.connected,
      connectionError: this.#connection.error,
    };
  }

  /**
   * Streams every stored entry's raw text with its position, oldest first,
   * `readPageSize` entries per request.
   *
   * @returns The entries, as an async iterable.
   * @throws {Error} When Redis cannot be read (the key holds another type,
   * Redis is unreachable).
   */
  readRawEntries(): AsyncIterable<RawEntry> {
    return readEntries(
      this.#connection,
      this.#key,
      this.#mode,
      this.#readPageSize,
    );
  }

  /**
   * Every valid trace stored under the key, oldest first (malformed entries
   * are skipped; `readTraces(collector)` counts them).
   *
   * @returns The traces.
   * @throws {Error} When Redis cannot be read.
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
   * Flushes, then deletes the key, but only when it holds a list (or, in
   * stream mode, a stream): a key of another type is someone else's data.
   *
   * @returns Resolves once the key is gone.
   * @throws {Error} When Redis is unreachable, or the key holds another type.
   */
  override async clear(): Promise<void> {
    await this.flush();
    const kind = await clearKey(this.#connection, this.#key, this.#mode);
    if (kind !== "ok") {
      const error = new Error(
        `${NAME} refuses to clear '${this.#key}': it holds a ${
          String(kind)
        }, not a ${this.#mode}`,
      );
      this.reportError(error);
      throw error;
    }
  }
}
