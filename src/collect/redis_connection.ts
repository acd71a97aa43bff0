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
 * `down` carries the cause, translated once here (NOAUTH, WRONGPASS, a
 * missing `--allow-net`), and the reconnection timer, which is unref'd so an
 * outage never keeps the host alive.
 *
 * @module
 */

import { type TimerHandle, unrefTimer } from "../runtime/timer.ts";
import { messageOf } from "../_message.ts";
import { runtime } from "../runtime/adapter.ts";

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

/** Where a connection is. */
export type ConnectionState =
  | { readonly kind: "connecting" }
  | { readonly kind: "ready"; readonly since: number }
  | {
    readonly kind: "down";
    readonly error: Error;
    readonly since: number;
    readonly retry: TimerHandle | undefined;
  }
  | { readonly kind: "closed" };

/** What a {@linkcode RedisConnection} tells its owner. */
export interface ConnectionEvents {
  /** The connection failed (once per outage, and when the cause changes). */
  down(error: Error): void;
  /** The connection is back after an outage. */
  up(message: string): void;
}

const RECONNECT_MAX_MS = 1000;
/** How long `close()` waits for a connection attempt it interrupts. */
const CLOSE_CONNECT_GRACE_MS = 1000;

/**
 * The message of a connection failure, with its cause named for a person:
 * Deno's missing network permission, Redis's refusals as Redis words them.
 */
export function connectionMessage(where: string, error: unknown): string {
  const message = messageOf(error);
  const flag = runtime.missingPermission(error) ??
    (/--allow-net/.test(message) ? "--allow-net" : undefined);
  if (flag !== undefined) {
    return `RedisCollector needs network access to reach Redis at ${where}: run Deno with ${flag} (Deno said: ${message})`;
  }
  return `RedisCollector cannot reach Redis at ${where}: ${message}`;
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
  readonly #owned: boolean;
  readonly #where: string;
  readonly #connectTimeoutMs: number;
  readonly #events: ConnectionEvents;
  #state: ConnectionState = { kind: "connecting" };
  #attempt: Promise<void> | undefined;
  #attempts = 0;
  /** Waiters for the end of the connection attempt in progress. */
  #waiters: (() => void)[] = [];

  /**
   * @param client The node-redis client.
   * @param options `owned`: whether this class opens and closes it.
   */
  constructor(
    client: RedisClientLike & Emitter,
    options: {
      owned: boolean;
      where: string;
      connectTimeoutMs: number;
      events: ConnectionEvents;
    },
  ) {
    this.client = client;
    this.#owned = options.owned;
    this.#where = options.where;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#events = options.events;
  }

  /** Starts connecting (an owned client) or watching (a given one). */
  start(): void {
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

  /** The last connection failure's message, if the connection is down. */
  get error(): string | undefined {
    return this.#state.kind === "down" ? this.#state.error.message : undefined;
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
      return Promise.reject(new Error("RedisCollector is closed"));
    }
    if (state.kind === "down") return Promise.reject(state.error);
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== settle);
        const now = this.#state;
        if (this.connected) resolve();
        else if (now.kind === "down") reject(now.error);
        else {
          reject(
            new Error(connectionMessage(this.#where, "not connected yet")),
          );
        }
      };
      const timer = unrefTimer(setTimeout(settle, this.#connectTimeoutMs));
      this.#waiters.push(settle);
    });
  }

  /** One connection attempt of an owned client, checked with PING. */
  #connect(): void {
    if (this.#state.kind === "closed" || this.#attempt !== undefined) return;
    this.#state = { kind: "connecting" };
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
    const previous = this.#state;
    this.#state = { kind: "ready", since: Date.now() };
    this.#attempts = 0;
    if (previous.kind === "down") {
      this.#events.up(
        `RedisCollector reconnected to Redis at ${this.#where} after ${
          ((Date.now() - previous.since) / 1000).toFixed(1)
        } s`,
      );
    }
    this.#wake();
  }

  #fail(cause: unknown): void {
    const state = this.#state;
    if (state.kind === "closed") return;
    const error = new Error(connectionMessage(this.#where, cause), { cause });
    const known = state.kind === "down" ? state.error.message : undefined;
    let retry: TimerHandle | undefined;
    if (state.kind === "down") retry = state.retry;
    if (this.#owned && retry === undefined) {
      // Capped exponential backoff with jitter, so workers that lost the
      // same Redis do not all come back in the same millisecond.
      const delay =
        Math.min(50 * 2 ** Math.min(this.#attempts++, 10), RECONNECT_MAX_MS) +
        Math.floor(Math.random() * 100);
      retry = unrefTimer(setTimeout(() => {
        if (this.#state.kind === "down") {
          this.#state = { ...this.#state, retry: undefined };
        }
        this.#connect();
      }, delay));
    }
    this.#state = {
      kind: "down",
      error,
      since: state.kind === "down" ? state.since : Date.now(),
      retry,
    };
    // One report per outage, and one per new cause: node-redis emits an
    // error on every attempt.
    if (known !== error.message) this.#events.down(error);
    this.#wake();
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
