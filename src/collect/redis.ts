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

import { traceFromJson } from "../trace.ts";
import type { Trace } from "../trace.ts";
import { BATCH_OPTION_KEYS, BatchCollector } from "./batch.ts";
import type { BatchCollectorStats, BatchOptions } from "./batch.ts";
import { resolveBatchOptions, withBacklogExports } from "./batch_options.ts";
import type { RawEntry, TraceSource } from "./read.ts";
import {
  clearKey,
  connectionOf,
  OWNER,
  readEntries,
  REDIS_EXPORTER_OPTION_KEYS,
  RedisExporter,
  type RedisExporterOptions,
  type RedisMode,
} from "./redis_store.ts";
import { checkKnownKeys, positiveInteger } from "../_options.ts";

export type { RedisClientLike } from "./redis_connection.ts";
export { DEFAULT_REDIS_URL } from "./redis_connection.ts";
export {
  DEFAULT_REDIS_KEY,
  REDIS_STREAM_FIELD,
  RedisExporter,
  type RedisExporterOptions,
  type RedisMode,
} from "./redis_store.ts";

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
export interface RedisCollectorOptions
  extends BatchOptions, RedisExporterOptions {
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
   * How many entries each `LRANGE`/`XRANGE` reads when reading back.
   * @default {1000}
   */
  readPageSize?: number;
  /**
   * Receives every failure: an export that failed (it will be retried), a
   * batch given up, the queue starting to drop; a connection failure (once
   * per outage for each cause, with `code` set: `ECONNREFUSED`, `NOAUTH`…)
   * and the end of an outage (an error whose `code` is `RECONNECTED`).
   * Must not throw.
   * @default {a console.warn: the first of each cause at once, then at most one a minute per cause}
   */
  onError?: (error: unknown) => void;
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
/** Stands in for the exporter while the engine's options are checked. */
const NO_EXPORTER = { export: () => Promise.resolve() };

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
 * false); an outage is reported once for each distinct cause, however many
 * reconnection attempts it takes, and its end once; the collector
 * reconnects on unref'd timers, so an outage never keeps the process alive.
 * It is the engine over a {@linkcode RedisExporter}, plus reading the key
 * back. On Deno, it needs `--allow-net`.
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
  readonly #exporter: RedisExporter;
  readonly #readPageSize: number;

  /**
   * Creates the collector and starts connecting (without waiting).
   *
   * @param options See {@linkcode RedisCollectorOptions}.
   * @throws {PssConfigError} When an option is unknown or invalid (a `url`
   * that is not `redis:`/`rediss:`, an empty `key`, both `url` and
   * `client`, `batchSize: 0`, …); nothing is left connecting then.
   */
  constructor(options: RedisCollectorOptions = {}) {
    checkKnownKeys(NAME, options, [
      ...BATCH_OPTION_KEYS,
      ...REDIS_EXPORTER_OPTION_KEYS,
      "readPageSize",
    ]);
    const {
      url,
      client,
      key,
      mode,
      maxLen,
      connectTimeoutMs,
      batchIdTtlSeconds,
      readPageSize = 1000,
      ...batch
    } = options;
    positiveInteger(NAME, "readPageSize", readPageSize);
    const engine = withBacklogExports(batch, batch.batchSize ?? 500);
    // Every option is checked before the exporter starts connecting, so a
    // constructor that throws leaves no connection behind.
    resolveBatchOptions(NAME, { ...engine, exporter: NO_EXPORTER });
    const exporter = new RedisExporter({
      url,
      client,
      key,
      mode,
      maxLen,
      connectTimeoutMs,
      batchIdTtlSeconds,
      onError: batch.onError,
      [OWNER]: NAME,
    } as RedisExporterOptions);
    super({ ...engine, exporter }, NAME);
    this.#exporter = exporter;
    this.#readPageSize = readPageSize;
  }

  /** The key traces are written to. */
  get key(): string {
    return this.#exporter.key;
  }

  /** Where traces are written: a list or a stream. */
  get mode(): RedisMode {
    return this.#exporter.mode;
  }

  /**
   * The batch counters plus whether Redis accepts commands now.
   *
   * @returns A fresh snapshot.
   */
  override stats(): RedisCollectorStats {
    return {
      ...super.stats(),
      connected: this.#exporter.connected,
      connectionError: this.#exporter.connectionError,
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
      connectionOf(this.#exporter),
      this.key,
      this.mode,
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
    const kind = await clearKey(
      connectionOf(this.#exporter),
      this.key,
      this.mode,
    );
    if (kind !== "ok") {
      const error = new Error(
        `${NAME} refuses to clear '${this.key}': it holds a ${
          String(kind)
        }, not a ${this.mode}`,
      );
      this.reportError(error);
      throw error;
    }
  }
}
