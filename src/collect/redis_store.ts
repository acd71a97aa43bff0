/**
 * What a RedisCollector does to its key: store a batch exactly once (one
 * atomic script per batch, guarded by the batch's id), read entries back,
 * and clear the key only when it holds what the collector writes.
 *
 * @module
 */

import { stringifyTrace, type Trace } from "../trace.ts";
import { causeOf, ExportInDoubtError, type TraceExporter } from "./exporter.ts";
import type { RawEntry } from "./read.ts";
import {
  type ConnectionOptions,
  openConnection,
  type RedisClientLike,
  type RedisConnection,
} from "./redis_connection.ts";
import { messageOf } from "../_message.ts";
import { PssConfigError } from "../score/config.ts";
import { checkKnownKeys, positiveInteger } from "../_options.ts";
import { createWarner } from "../_warn.ts";

/**
 * Where a {@linkcode RedisCollector} writes: a list or a stream.
 *
 * @example
 * ```ts
 * import { RedisCollector, type RedisMode } from "@pss/pss/redis";
 * import assert from "node:assert/strict";
 * const mode: RedisMode = "stream";
 * assert.throws(() => new RedisCollector({ mode: "queue" as RedisMode }), /"list" or "stream"/);
 * ```
 */
export type RedisMode = "list" | "stream";

/**
 * The stream field that holds a trace's JSON in `mode: "stream"`.
 *
 * @example
 * ```ts
 * import { REDIS_STREAM_FIELD } from "@pss/pss/redis";
 * import assert from "node:assert/strict";
 * const fields: Record<string, string> = { trace: '{"name":"op"}' }; // one stream entry
 * assert.equal(JSON.parse(fields[REDIS_STREAM_FIELD]).name, "op");
 * ```
 */
export const REDIS_STREAM_FIELD = "trace";

/**
 * Stores one batch once, in one atomic script. Redis does not roll a script
 * back when a command in it fails, so the order is what keeps it true:
 *
 * 1. the id's key says `stored`: a retry of a batch already stored, return 0;
 * 2. the target holds another type: refuse with WRONGTYPE, having written
 *    nothing (no id key either);
 * 3. claim the id as `pending`, the first write: a write Redis refuses
 *    (OOM, NOPERM on the id's key) is refused here, before any append.
 *    Redis checks OOM only before a script's first write, so later writes
 *    are not refused for memory; `pending` is not `stored`, so a retry after
 *    an append refused (NOPERM on the target) appends;
 * 4. append, then mark the id `stored`; trim last, and a trim refused
 *    (a user who may not run LTRIM) does not fail the stored batch: its
 *    error comes back as the reply, to be reported.
 *
 * A batch is sent in parts (see PART_SIZE), each with an id of its own; a
 * part after the first names the one before (KEYS[3]) and is refused
 * unless that one is stored, so a batch lands in order even when a part
 * fails and later ones arrive.
 *
 * KEYS: the target, the part's id key, the previous part's id key (none for
 * the first). ARGV: ttl, mode (the type the target must hold), maxLen (""
 * for none), then the traces' JSON. Replies 1 (stored), 0 (stored before),
 * or the trim's error.
 */
const STORE_ONCE = `
local state = redis.call('GET', KEYS[2])
if state and state ~= 'pending' then return 0 end
if KEYS[3] and redis.call('GET', KEYS[3]) ~= 'stored' then
  return redis.error_reply('ORDER the part of this batch before this one is not stored')
end
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'none' and kind ~= ARGV[2] then
  return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
end
redis.call('SET', KEYS[2], 'pending', 'EX', ARGV[1])
local n = #ARGV
if ARGV[2] == 'list' then
  redis.call('RPUSH', KEYS[1], unpack(ARGV, 4, n))
else
  for i = 4, n do
    if ARGV[3] == '' then
      redis.call('XADD', KEYS[1], '*', '${REDIS_STREAM_FIELD}', ARGV[i])
    else
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', '${REDIS_STREAM_FIELD}', ARGV[i])
    end
  end
end
redis.call('SET', KEYS[2], 'stored', 'EX', ARGV[1])
if ARGV[2] == 'list' and ARGV[3] ~= '' then
  local trimmed = redis.pcall('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
  if type(trimmed) == 'table' and trimmed.err then return trimmed.err end
end
return 1`;

/**
 * Traces per script call. An export of more is sent as several calls
 * without waiting for replies, so that encoding one part overlaps Redis
 * storing the part before (the engine keeps one export in flight; a
 * pipelined RPUSH loop overlaps them the same way). Small enough for Lua's
 * unpack.
 */
const PART_SIZE = 250;

/**
 * Resolves on the next turn of the event loop, after node-redis's own
 * `setImmediate` that writes the commands queued so far.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => immediate(resolve));
}

/** `setImmediate` (a global on Deno and Bun, as node-redis uses it). */
const immediate: (callback: () => void) => unknown =
  (globalThis as { setImmediate?: (callback: () => void) => unknown })
    .setImmediate ?? ((callback) => setTimeout(callback, 0));

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

/**
 * The store-once script's text, for `bench/redis_bench.ts`'s contrast row
 * (the same script pipelined by hand, without the engine). Internal.
 */
export const STORE_ONCE_TEXT: string = STORE_ONCE;
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
 * Options for {@linkcode RedisExporter} (and the Redis half of
 * `RedisCollectorOptions`).
 *
 * @example
 * ```ts
 * import type { RedisExporterOptions } from "@pss/pss/redis";
 * import assert from "node:assert/strict";
 * const options: RedisExporterOptions = { key: "myapp:traces", mode: "stream", maxLen: 100_000 };
 * assert.equal(options.mode, "stream");
 * ```
 */
export interface RedisExporterOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. A
   * URL that does not parse is a configuration error; a host that does not
   * answer is reported and retried. Not with `client`.
   * @default {"redis://127.0.0.1:6379"}
   */
  url?: string;
  /**
   * An existing node-redis v5 client (create it with `disableOfflineQueue:
   * true`). It is opened if needed but never closed.
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
   * How long Redis remembers the id of a stored batch, in seconds: a retry
   * of that batch within this time stores nothing twice. Each batch leaves a
   * small key `<key>:pss-batch:<id>` for that long (on Redis Cluster, give
   * `key` a hash tag, `{traces}`, so both land on one node).
   * @default {3600}
   */
  batchIdTtlSeconds?: number;
  /**
   * Receives connection failures (once per outage for each cause, with
   * `code` set: `ECONNREFUSED`, `NOAUTH`…), the end of an outage (an error
   * whose `code` is `RECONNECTED`), and a trim Redis refused. Must not
   * throw.
   * @default {a console.warn: the first of each cause at once, then at most one a minute per cause}
   */
  onError?: (error: unknown) => void;
}

/** The option keys of {@linkcode RedisExporterOptions}. */
export const REDIS_EXPORTER_OPTION_KEYS: readonly string[] = [
  "url",
  "client",
  "key",
  "mode",
  "maxLen",
  "connectTimeoutMs",
  "batchIdTtlSeconds",
  "onError",
];

/**
 * Who owns an exporter, for its messages: a RedisCollector passes its name
 * under this key, and has checked the option keys itself.
 */
export const OWNER: unique symbol = Symbol("pss.redis.owner");

/** Each exporter's connection, for the collector that reads the key back. */
const connections = new WeakMap<RedisExporter, RedisConnection>();

/** The connection of `exporter` (for RedisCollector's reads). */
export function connectionOf(exporter: RedisExporter): RedisConnection {
  return connections.get(exporter) as RedisConnection;
}

/**
 * A {@linkcode TraceExporter} that stores each batch in a Redis list (or
 * stream) exactly once: one atomic script call (`EVALSHA`) per batch
 * appends it only if its id is new, so a retry after a lost reply, a
 * dropped connection or an export abandoned while Redis was paused stores
 * nothing twice. `RedisCollector` is the batching engine over this
 * exporter plus reading the key back; use the exporter itself to give
 * Redis to an engine of your own configuration, or to combine it with
 * other destinations. It connects (without waiting) when created, and
 * reconnects on unref'd timers; `shutdown()` (called by the engine's
 * `close()`) disconnects. On Deno, it needs `--allow-net`.
 *
 * @example Give Redis to a BatchCollector
 * ```ts ignore
 * import { BatchCollector } from "@pss/pss";
 * import { RedisExporter } from "@pss/pss/redis";
 * const exporter = new RedisExporter({ url: "redis://127.0.0.1:6379", key: "myapp:traces" });
 * await using collector = new BatchCollector({ exporter, batchSize: 200 });
 * collector.add({ name: "db.query", duration: 0.012 });
 * await collector.flush();
 * console.log(collector.stats().sent, exporter.connected); // 1 true
 * ```
 */
export class RedisExporter implements TraceExporter {
  readonly #connection: RedisConnection;
  readonly #key: string;
  readonly #mode: RedisMode;
  readonly #maxLen: string;
  readonly #ttl: string;
  readonly #name: string;
  readonly #report: Report;
  /** Each batch's id, the same on every retry. */
  readonly #ids = new WeakMap<readonly Trace[], string>();

  /**
   * Checks the options and starts connecting (without waiting).
   *
   * @param options See {@linkcode RedisExporterOptions}.
   * @throws {PssConfigError} When an option is unknown or invalid (a `url`
   * that is not `redis:`/`rediss:`, an empty `key`, both `url` and
   * `client`, …).
   */
  constructor(options: RedisExporterOptions = {}) {
    const owner = (options as { [OWNER]?: string } | null)?.[OWNER];
    const name = owner ?? "RedisExporter";
    if (owner === undefined) {
      checkKnownKeys(name, options, REDIS_EXPORTER_OPTION_KEYS);
    }
    const {
      key = DEFAULT_REDIS_KEY,
      mode = "list",
      maxLen,
      batchIdTtlSeconds = 3600,
      onError,
    } = options;
    const fail = (field: string, value: unknown, rule: string): never => {
      throw new PssConfigError(field, value, `${name}'s '${field}' ${rule}`);
    };
    if (typeof key !== "string" || key === "") {
      fail("key", key, "must be a non-empty string");
    }
    if (mode !== "list" && mode !== "stream") {
      fail("mode", mode, 'must be "list" or "stream"');
    }
    if (maxLen !== undefined) positiveInteger(name, "maxLen", maxLen);
    positiveInteger(name, "batchIdTtlSeconds", batchIdTtlSeconds);
    if (onError !== undefined && typeof onError !== "function") {
      fail("onError", onError, "must be a function");
    }
    this.#name = name;
    const report = this.#report = reporter(name, onError);
    this.#connection = openConnection(name, options as ConnectionOptions, {
      // Limited per cause, so a new cause is never hidden behind the last.
      down: (error) => report(`connection:${error.code}`, error),
      up: (message) =>
        report(
          "reconnected",
          Object.assign(new Error(message), { code: "RECONNECTED" }),
        ),
    });
    connections.set(this, this.#connection);
    this.#key = key;
    this.#mode = mode;
    this.#maxLen = maxLen === undefined ? "" : String(maxLen);
    this.#ttl = String(batchIdTtlSeconds);
    this.#connection.start();
  }

  /** The key traces are written to. */
  get key(): string {
    return this.#key;
  }

  /** Where traces are written: a list or a stream. */
  get mode(): RedisMode {
    return this.#mode;
  }

  /** Whether Redis accepts our commands now (false while it refuses us). */
  get connected(): boolean {
    return this.#connection.connected;
  }

  /** Why the connection is down, during an outage. */
  get connectionError(): string | undefined {
    return this.#connection.error;
  }

  /**
   * Stores one batch, once: a retry of the same array is recognised.
   *
   * @param batch The traces, oldest first.
   * @param signal Aborted when the engine abandons this export.
   * @returns Resolves once Redis has stored the batch (or had already).
   * @throws {Error} Redis's refusal (WRONGTYPE, OOM, NOPERM…: nothing
   * stored), or an {@linkcode ExportInDoubtError} when the connection broke
   * after the batch was sent.
   */
  async export(batch: readonly Trace[], signal: AbortSignal): Promise<void> {
    if (batch.length === 0) return;
    let id = this.#ids.get(batch);
    if (id === undefined) {
      id = crypto.randomUUID();
      this.#ids.set(batch, id);
    }
    await this.#connection.ready();
    const replies: Promise<unknown>[] = [];
    for (let start = 0; start < batch.length; start += PART_SIZE) {
      // Let the client write the part before while this one is encoded.
      if (start > 0) await nextTurn();
      signal.throwIfAborted();
      const reply = this.#storePart(batch, start, id);
      reply.catch(() => {}); // settled below
      replies.push(reply);
    }
    const results = await Promise.allSettled(replies);
    const failed = results.findIndex((r) => r.status === "rejected");
    if (failed !== -1) {
      const error = (results[failed] as PromiseRejectedResult).reason;
      // A reply of Redis (WRONGTYPE, OOM, NOPERM…) for the first part: it
      // came before the part was marked stored, so its retry appends, and
      // every later part was refused (see STORE_ONCE): nothing stored.
      // After a part stored, or the connection broke: some may be.
      if (failed === 0 && isRedisReply(error)) throw error;
      throw new ExportInDoubtError(messageOf(error), { cause: error });
    }
    for (const result of results) {
      const reply = (result as PromiseFulfilledResult<unknown>).value;
      if (typeof reply === "string") {
        const error = new Error(
          `${this.#name} stored a batch in '${this.#key}' but could not trim it to maxLen ${this.#maxLen}: ${reply}`,
        );
        this.#report(`trim:${causeOf(reply)}`, error);
      }
    }
  }

  /** Encodes and sends the part of `batch` that begins at `start`. */
  #storePart(
    batch: readonly Trace[],
    start: number,
    id: string,
  ): Promise<unknown> {
    const end = Math.min(batch.length, start + PART_SIZE);
    const args = new Array<string>(end - start + 3);
    args[0] = this.#ttl;
    args[1] = this.#mode;
    args[2] = this.#maxLen;
    for (let i = start; i < end; i++) {
      args[i - start + 3] = stringifyTrace(batch[i]);
    }
    const part = start / PART_SIZE;
    const keys = [this.#key, `${this.#key}:pss-batch:${id}:${part}`];
    if (part > 0) keys.push(`${this.#key}:pss-batch:${id}:${part - 1}`);
    return runScript(this.#connection.client, STORE, keys, args);
  }

  /**
   * Stops reconnecting and disconnects (a given client stays open).
   *
   * @returns Resolves once disconnected.
   */
  shutdown(): Promise<void> {
    return this.#connection.close();
  }
}

/** Reports `error`, limited under `key` by the default warning. */
type Report = (key: string, error: unknown) => void;

/**
 * Where an exporter's reports go: `onError` (which must not break us), or
 * a warning limited per key.
 */
function reporter(
  name: string,
  onError: ((error: unknown) => void) | undefined,
): Report {
  if (onError !== undefined) {
    return (_key, error) => {
      try {
        onError(error);
      } catch {
        // The host's hook must not break the exporter.
      }
    };
  }
  const warner = createWarner({ prefix: `[pss] ${name}` });
  return (key, error) => warner.warn(key, error);
}

/**
 * Streams every entry under `key` with its position, oldest first, `page`
 * entries per request (`LRANGE`, or `XRANGE` for a stream).
 */
export async function* readEntries(
  connection: RedisConnection,
  key: string,
  mode: RedisMode,
  page: number,
): AsyncGenerator<RawEntry, void, undefined> {
  await held(connection.ready());
  const client = connection.client;
  if (mode === "list") {
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
 * Deletes `key` when it holds a `mode` (or nothing).
 *
 * @returns `"ok"`, or the type the key holds instead.
 */
export async function clearKey(
  connection: RedisConnection,
  key: string,
  mode: RedisMode,
): Promise<unknown> {
  await held(connection.ready());
  return await held(runScript(connection.client, CLEAR, [key], [mode]));
}
