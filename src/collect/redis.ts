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
import { stringifyTrace, traceFromJson } from "../trace.ts";
import type { Trace } from "../trace.ts";
import { PssConfigError } from "../score/config.ts";
import { BATCH_OPTION_KEYS, BatchCollector } from "./batch.ts";
import type { BatchCollectorStats, BatchOptions } from "./batch.ts";
import { ExportInDoubtError, type TraceExporter } from "./exporter.ts";
import type { RawEntry, TraceSource } from "./read.ts";
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
 * The default key, the one pypss's documentation uses.
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
 * @example
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
   * of that batch within this time stores nothing twice.
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
 * Stores one batch once: `SET id NX EX ttl` guards the append, all in one
 * atomic script, so a retry of a batch Redis already stored (its reply was
 * lost, or the export was abandoned while Redis was paused) stores nothing.
 * KEYS: the target, the batch id's key. ARGV: ttl, mode, maxLen ("" for
 * none), then the traces' JSON. Appends in chunks (Lua's unpack is bounded).
 */
const STORE_ONCE = `
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local n = #ARGV
if ARGV[2] == 'list' then
  for i = 4, n, 1000 do
    redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, n)))
  end
  if ARGV[3] ~= '' then redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1) end
else
  for i = 4, n do
    if ARGV[3] == '' then
      redis.call('XADD', KEYS[1], '*', '${REDIS_STREAM_FIELD}', ARGV[i])
    else
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', '${REDIS_STREAM_FIELD}', ARGV[i])
    end
  end
end
return 1`;

/** Deletes the key only when it holds what the collector writes. */
const CLEAR_OWN = `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= ARGV[1] and kind ~= 'none' then return kind end
redis.call('DEL', KEYS[1])
return 'ok'`;

/** The SHA-1 of a script, as `EVALSHA` names it. */
async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Runs a script by its SHA, loading it when Redis does not know it yet. */
async function runScript(
  client: RedisClientLike,
  script: { text: string; sha: Promise<string> },
  keys: string[],
  args: string[],
): Promise<unknown> {
  const tail = [String(keys.length), ...keys, ...args];
  try {
    return await client.sendCommand(["EVALSHA", await script.sha, ...tail]);
  } catch (error) {
    if (!/^NOSCRIPT/.test(messageOf(error))) throw error;
    return await client.sendCommand(["EVAL", script.text, ...tail]);
  }
}

function script(text: string): { text: string; sha: Promise<string> } {
  return { text, sha: sha1(text) };
}

const STORE = script(STORE_ONCE);
const CLEAR = script(CLEAR_OWN);

/**
 * Awaits `promise` while a ref'd timer keeps the process alive: the socket
 * of a client the collector created is unref'd.
 */
async function held<T>(promise: Promise<T>): Promise<T> {
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    return await promise;
  } finally {
    clearInterval(keepAlive);
  }
}

/** The smallest stream id greater than `id`. */
function nextStreamId(id: string): string {
  const dash = id.indexOf("-");
  const seq = BigInt(id.slice(dash + 1));
  return seq === 0xffff_ffff_ffff_ffffn
    ? `${BigInt(id.slice(0, dash)) + 1n}-0`
    : `${id.slice(0, dash)}-${seq + 1n}`;
}

/** A stream entry's `trace` field, else its fields as one JSON object. */
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

/** Whether `error` is an error reply of Redis (its message opens with a code). */
function isRedisReply(error: unknown): boolean {
  return /^[A-Z][A-Z_]{2,} /.test(messageOf(error)) ||
    (error as { name?: unknown } | null)?.name === "ErrorReply";
}

/** The exporter: one idempotent script call per batch. */
class RedisExporter implements TraceExporter {
  readonly #connection: RedisConnection;
  readonly #key: string;
  readonly #mode: RedisMode;
  readonly #maxLen: string;
  readonly #ttl: string;
  /** Each batch's id, the same on every retry. */
  readonly #ids = new WeakMap<readonly Trace[], string>();

  constructor(
    connection: RedisConnection,
    key: string,
    mode: RedisMode,
    maxLen: number | undefined,
    ttlSeconds: number,
  ) {
    this.#connection = connection;
    connection.start(); // only once the options are known to be valid
    this.#key = key;
    this.#mode = mode;
    this.#maxLen = maxLen === undefined ? "" : String(maxLen);
    this.#ttl = String(ttlSeconds);
  }

  async export(batch: readonly Trace[], signal: AbortSignal): Promise<void> {
    if (batch.length === 0) return;
    let id = this.#ids.get(batch);
    if (id === undefined) {
      id = crypto.randomUUID();
      this.#ids.set(batch, id);
    }
    await this.#connection.ready();
    signal.throwIfAborted();
    const args = new Array<string>(batch.length + 3);
    args[0] = this.#ttl;
    args[1] = this.#mode;
    args[2] = this.#maxLen;
    for (let i = 0; i < batch.length; i++) {
      args[i + 3] = stringifyTrace(batch[i]);
    }
    try {
      await runScript(
        this.#connection.client,
        STORE,
        [this.#key, `${this.#key}:pss-batch:${id}`],
        args,
      );
    } catch (error) {
      // A reply of Redis (WRONGTYPE, OOM, NOPERM…) means the script did not
      // run to the end, and a script is atomic: nothing stored. Anything
      // else (the connection broke) leaves it open.
      if (isRedisReply(error)) throw error;
      throw new ExportInDoubtError(messageOf(error), { cause: error });
    }
  }

  shutdown(): Promise<void> {
    return this.#connection.close();
  }
}

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
 * await using collector = new RedisCollector({ key: "myapp:traces" });
 * using _signals = flushOnSignals([collector]);
 * collector.add({ name: "db.query", duration: 0.012 });
 * await collector.flush();
 * console.log((await collector.traces()).length);
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
  async *readRawEntries(): AsyncGenerator<RawEntry, void, undefined> {
    await held(this.#connection.ready());
    const client = this.#connection.client;
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
    await held(this.#connection.ready());
    const kind = await held(runScript(
      this.#connection.client,
      CLEAR,
      [this.#key],
      [this.#mode],
    ));
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
