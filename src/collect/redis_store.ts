/**
 * What a RedisCollector does to its key: store a batch exactly once (one
 * atomic script per batch, guarded by the batch's id), read entries back,
 * and clear the key only when it holds what the collector writes.
 *
 * @module
 */

import { stringifyTrace, type Trace } from "../trace.ts";
import { ExportInDoubtError, type TraceExporter } from "./exporter.ts";
import type { RawEntry } from "./read.ts";
import type { RedisClientLike, RedisConnection } from "./redis_connection.ts";
import { messageOf } from "../_message.ts";

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
export class RedisExporter implements TraceExporter {
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
