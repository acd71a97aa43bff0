/**
 * The lifecycle of a RedisCollector's connection, as one explicit state and
 * its transitions, apart from the exporter that uses it:
 *
 * ```
 * connecting ──ready + PING──▶ ready ──error/close──▶ down ──timer──▶ connecting
 *      │                                               ▲
 *      └──────────── refused / unreachable ────────────┘      (any) ──close()──▶ closed
 * ```
 *
 * An outage (its first error, when it began, the causes already reported)
 * lives from the first failure to the next `ready`, across every
 * reconnection attempt: `down` carries it, and so does `connecting` while
 * it retries. Its causes are translated once here (NOAUTH, WRONGPASS, a
 * missing `--allow-net`), each reported once per outage, and its end is
 * reported once. The reconnection timer is unref'd, so an outage never
 * keeps the host alive.
 *
 * @module
 */

import { type TimerHandle, unrefTimer } from "../runtime/timer.ts";
import { messageOf } from "../_message.ts";
import { runtime } from "../runtime/adapter.ts";
import { causeOf } from "./exporter.ts";
import { createClient } from "redis";
import { PssConfigError } from "../score/config.ts";
import { positiveInteger } from "../_options.ts";

/**
 * What a {@linkcode RedisCollector} needs of a Redis client: the subset of a
 * node-redis v5 client (`createClient()` from `redis`) it uses. The client
 * must also be an event emitter (`on`/`off` for `"error"` and `"ready"`),
 * checked at run time because node-redis's typings of it need
 * `@types/node`.
 *
 * @example Share one client between the collector and the application
 * ```ts ignore
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
  /** Opens the connection. */
  connect(): Promise<unknown>;
  /** Sends one raw command, for example `["RPUSH", key, value]`. */
  sendCommand(args: string[]): Promise<unknown>;
  /** Closes the connection at once, rejecting pending commands. */
  destroy(): void;
  /** Lets the process exit while the connection is open. */
  unref(): void;
}

/** The event-emitter part of a node-redis client. */
export interface Emitter {
  /** Adds a listener. */
  on(event: string, listener: (value: unknown) => void): unknown;
  /** Removes a listener. */
  off(event: string, listener: (value: unknown) => void): unknown;
}

/** Whether `value` has `on` and `off`. */
export function isEmitter(value: unknown): value is Emitter {
  return typeof (value as Emitter | null)?.on === "function" &&
    typeof (value as Emitter | null)?.off === "function";
}

/**
 * An outage: from the first failure to the next `ready`, across every
 * reconnection attempt in between.
 */
export interface Outage {
  /** The latest failure, with `code` set to its cause (`NOAUTH`). */
  readonly error: Error & { code: string };
  /** When the outage began, in milliseconds since the epoch. */
  readonly since: number;
  /** The causes reported so far in this outage. */
  readonly reported: ReadonlySet<string>;
}

/** Where a connection is. */
export type ConnectionState =
  /** Attempting to connect; `outage` when this attempt retries one. */
  | { readonly kind: "connecting"; readonly outage: Outage | undefined }
  | { readonly kind: "ready"; readonly since: number }
  | {
    readonly kind: "down";
    readonly outage: Outage;
    readonly retry: TimerHandle | undefined;
  }
  | { readonly kind: "closed" };

/** What a {@linkcode RedisConnection} tells its owner. */
export interface ConnectionEvents {
  /**
   * The connection failed: once per outage for each distinct cause (its
   * `code`, such as `ECONNREFUSED` or `NOAUTH`).
   */
  down(error: Error & { code: string }): void;
  /** The connection is back after an outage (once per outage). */
  up(message: string): void;
}

const RECONNECT_MAX_MS = 1000;
/** How long `close()` waits for a connection attempt it interrupts. */
const CLOSE_CONNECT_GRACE_MS = 1000;

/**
 * The message of a connection failure, with its cause named for a person:
 * Deno's missing network permission, Redis's refusals as Redis words them.
 */
export function connectionMessage(
  name: string,
  where: string,
  error: unknown,
): string {
  const message = messageOf(error);
  const flag = runtime.missingPermission(error) ??
    (/--allow-net/.test(message) ? "--allow-net" : undefined);
  if (flag !== undefined) {
    return `${name} needs network access to reach Redis at ${where}: run Deno with ${flag} (Deno said: ${message})`;
  }
  return `${name} cannot reach Redis at ${where}: ${message}`;
}

/**
 * The cause of a connection failure as a short code: the error's own
 * (`ECONNREFUSED`, `NOAUTH`, `TIMEOUT`; see `causeOf`), else
 * `CONNECTION_LOST` for an established connection that broke (node-redis
 * says only "Socket closed unexpectedly") or `CONNECT_FAILED`.
 */
function connectionCause(error: unknown, wasReady: boolean): string {
  const cause = causeOf(error);
  if (/^[A-Za-z_][\w-]*$/.test(cause)) return cause;
  return wasReady ? "CONNECTION_LOST" : "CONNECT_FAILED";
}

/**
 * A node-redis client and its lifecycle. A client the collector created
 * (`owned`) is connected, checked with `PING` (a server with `requirepass`
 * accepts the connection and refuses every command: that is `down` with
 * NOAUTH, not `ready`) and reconnected by this class on unref'd timers; a
 * given client reconnects by its own strategy and is only watched.
 */
export class RedisConnection {
  readonly client: RedisClientLike & Emitter;
  readonly #name: string;
  readonly #owned: boolean;
  readonly #where: string;
  readonly #connectTimeoutMs: number;
  readonly #events: ConnectionEvents;
  #state: ConnectionState = { kind: "connecting", outage: undefined };
  #attempt: Promise<void> | undefined;
  #attempts = 0;
  #started = false;
  /** Waiters for the end of the connection attempt in progress. */
  #waiters: (() => void)[] = [];

  /**
   * @param client The node-redis client.
   * @param options `owned`: whether this class opens and closes it.
   */
  constructor(
    client: RedisClientLike & Emitter,
    options: {
      name: string;
      owned: boolean;
      where: string;
      connectTimeoutMs: number;
      events: ConnectionEvents;
    },
  ) {
    this.client = client;
    this.#name = options.name;
    this.#owned = options.owned;
    this.#where = options.where;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#events = options.events;
  }

  /**
   * Starts connecting (an owned client) or watching (a given one). Only the
   * first call does anything.
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const client = this.client;
    // node-redis emits 'error' on every failed (re)connection; an
    // EventEmitter without a listener would throw it into the host.
    client.on("error", this.#onError);
    client.on("ready", this.#onReady);
    if (this.#owned) {
      client.unref(); // close() flushes what is left.
      this.#connect();
    } else if (client.isReady) {
      this.#state = { kind: "ready", since: Date.now() };
    } else if (!client.isOpen) {
      client.connect().catch((error: unknown) => this.#fail(error));
    }
  }

  /** Where the connection is now. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** Whether commands can be sent now (false while Redis refuses us). */
  get connected(): boolean {
    return this.#state.kind === "ready" && this.client.isReady;
  }

  /** The last connection failure's message, during an outage. */
  get error(): string | undefined {
    return this.#outage()?.error.message;
  }

  /** The outage the connection is in, if any. */
  #outage(): Outage | undefined {
    const state = this.#state;
    return state.kind === "down" || state.kind === "connecting"
      ? state.outage
      : undefined;
  }

  /**
   * Resolves once commands can be sent. Rejects at once during a known
   * outage; before the first connection, waits for its outcome (at most the
   * connect timeout).
   */
  ready(): Promise<void> {
    const state = this.#state;
    if (state.kind === "ready" && this.client.isReady) return Promise.resolve();
    if (state.kind === "closed") {
      return Promise.reject(new Error(`${this.#name} is closed`));
    }
    if (state.kind === "down") return Promise.reject(state.outage.error);
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== settle);
        const now = this.#state;
        if (this.connected) resolve();
        else if (now.kind === "down") reject(now.outage.error);
        else {
          reject(Object.assign(
            new Error(connectionMessage(
              this.#name,
              this.#where,
              `not connected within ${this.#connectTimeoutMs} ms`,
            )),
            { code: "TIMEOUT" },
          ));
        }
      };
      const timer = unrefTimer(setTimeout(settle, this.#connectTimeoutMs));
      this.#waiters.push(settle);
    });
  }

  /** One connection attempt of an owned client, checked with PING. */
  #connect(): void {
    if (this.#state.kind === "closed" || this.#attempt !== undefined) return;
    this.#state = { kind: "connecting", outage: this.#outage() };
    const client = this.client;
    this.#attempt = (async () => {
      try {
        if (!client.isOpen) await client.connect();
        await client.sendCommand(["PING"]);
      } catch (error) {
        this.#attempt = undefined;
        if (this.#state.kind === "closed") return;
        this.#destroy();
        this.#fail(error);
        return;
      }
      this.#attempt = undefined;
      if (this.#state.kind === "closed") return this.#destroy();
      this.#up();
    })();
  }

  #up(): void {
    const outage = this.#outage();
    this.#state = { kind: "ready", since: Date.now() };
    this.#attempts = 0;
    if (outage !== undefined) {
      this.#events.up(
        `${this.#name} reconnected to Redis at ${this.#where} after ${
          ((Date.now() - outage.since) / 1000).toFixed(1)
        } s`,
      );
    }
    this.#wake();
  }

  #fail(cause: unknown): void {
    const state = this.#state;
    if (state.kind === "closed") return;
    const code = connectionCause(cause, state.kind === "ready");
    const error = Object.assign(
      new Error(connectionMessage(this.#name, this.#where, cause), { cause }),
      { code },
    );
    const previous = this.#outage();
    const reported = new Set(previous?.reported);
    const isNew = !reported.has(code);
    reported.add(code);
    let retry = state.kind === "down" ? state.retry : undefined;
    if (this.#owned && retry === undefined) retry = this.#scheduleRetry();
    this.#state = {
      kind: "down",
      outage: { error, since: previous?.since ?? Date.now(), reported },
      retry,
    };
    // node-redis emits an error on every attempt: one report per cause for
    // the whole outage, not one per attempt.
    if (isNew) this.#events.down(error);
    this.#wake();
  }

  /**
   * Arms the next reconnection: capped exponential backoff with jitter, so
   * workers that lost the same Redis do not all come back in the same
   * millisecond.
   */
  #scheduleRetry(): TimerHandle {
    const delay =
      Math.min(50 * 2 ** Math.min(this.#attempts++, 10), RECONNECT_MAX_MS) +
      Math.floor(Math.random() * 100);
    return unrefTimer(setTimeout(() => {
      const state = this.#state;
      if (state.kind === "down") this.#state = { ...state, retry: undefined };
      this.#connect();
    }, delay));
  }

  #onError = (error: unknown): void => {
    if (this.#owned && this.#attempt !== undefined) return; // #connect reports
    if (this.#owned) {
      // An established connection broke: node-redis does not reconnect
      // (reconnectStrategy: false); this class does.
      if (this.#state.kind === "ready") {
        this.#destroy();
        this.#fail(error);
      }
      return;
    }
    this.#fail(error);
  };

  #onReady = (): void => {
    if (!this.#owned && this.#state.kind !== "closed") this.#up();
  };

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  #destroy(): void {
    try {
      if (this.client.isOpen) this.client.destroy();
    } catch {
      // Already closed.
    }
  }

  /**
   * Stops reconnecting and, for an owned client, disconnects (after letting
   * an attempt in progress end, for a bounded time: node-redis cannot
   * destroy a socket that is still connecting). Idempotent.
   */
  async close(): Promise<void> {
    const state = this.#state;
    if (state.kind === "closed") return;
    if (state.kind === "down" && state.retry !== undefined) {
      clearTimeout(state.retry);
    }
    this.#state = { kind: "closed" };
    this.#wake();
    this.client.off("ready", this.#onReady);
    if (!this.#owned) {
      this.client.off("error", this.#onError);
      return;
    }
    const attempt = this.#attempt;
    if (attempt !== undefined) {
      let timer: TimerHandle | undefined;
      await Promise.race([
        attempt,
        new Promise<void>((resolve) => {
          timer = unrefTimer(setTimeout(
            resolve,
            this.#connectTimeoutMs + CLOSE_CONNECT_GRACE_MS,
          ));
        }),
      ]);
      clearTimeout(timer);
    }
    // The error listener stays: node-redis may still report on a socket it
    // is closing, and an EventEmitter without one would throw that.
    this.#destroy();
  }
}

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

/** Where to connect, as the collector and the exporter take it. */
export interface ConnectionOptions {
  /** `redis://…` or `rediss://…`; not with `client`. */
  url?: string;
  /** An existing node-redis v5 client. */
  client?: RedisClientLike;
  /** How long to wait for the TCP (and TLS) connection, per attempt. */
  connectTimeoutMs?: number;
}

/**
 * Checks where to connect and makes the (not yet started) connection: a
 * client of our own for `url`, or the given `client`.
 *
 * @param name Who connects, for messages ("RedisCollector").
 * @throws {PssConfigError} For a `url` that is not `redis:`/`rediss:`, both
 * `url` and `client`, a `client` that is not a node-redis client, or a
 * `connectTimeoutMs` that is not a positive integer.
 */
export function openConnection(
  name: string,
  options: ConnectionOptions,
  events: ConnectionEvents,
): RedisConnection {
  const { url: givenUrl, client: givenClient, connectTimeoutMs = 5000 } =
    options;
  const fail = (field: string, value: unknown, rule: string): never => {
    throw new PssConfigError(field, value, `${name}'s '${field}' ${rule}`);
  };
  positiveInteger(name, "connectTimeoutMs", connectTimeoutMs);
  if (givenClient !== undefined && givenUrl !== undefined) {
    fail("url", givenUrl, "cannot be given together with 'client'");
  }
  let where = "the given client";
  let client: unknown = givenClient;
  if (client === undefined) {
    const url = givenUrl ?? DEFAULT_REDIS_URL;
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
  return new RedisConnection(client as RedisClientLike & Emitter, {
    name,
    owned: givenClient === undefined,
    where,
    connectTimeoutMs,
    events,
  });
}
