/**
 * The HTTP server port: serve a fetch handler on the running runtime
 * (`Deno.serve` on Deno, `Bun.serve` on Bun). Other runtimes cannot listen,
 * and `serveHttp` says so.
 *
 * @module
 */

/** A fetch handler: what `Deno.serve` and `Bun.serve` call per request. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * Where and how {@linkcode serveHttp} listens.
 *
 * @example
 * ```ts
 * import type { ServeHttpOptions } from "./serve.ts";
 * const options: ServeHttpOptions = { hostname: "127.0.0.1", port: 0 };
 * ```
 */
export interface ServeHttpOptions {
  /** The address to bind, such as `127.0.0.1` or `0.0.0.0`. */
  hostname: string;
  /** The port; 0 picks a free one. */
  port: number;
  /** A PEM certificate chain and private key: serve HTTPS (and HTTP/2 by ALPN). */
  tls?: { cert: string; key: string };
}

/**
 * A running HTTP server.
 *
 * @example
 * ```ts
 * import { type HttpServer, serveHttp } from "./serve.ts";
 * const server: HttpServer = await serveHttp(() => new Response("ok"), { hostname: "127.0.0.1", port: 0 });
 * console.log(await (await fetch(server.url)).text()); // ok
 * await server.close();
 * ```
 */
export interface HttpServer extends AsyncDisposable {
  /** The bound address, such as `http://127.0.0.1:40123`. */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** Stops listening and ends open connections. Idempotent. */
  close(): Promise<void>;
}

interface DenoServeApi {
  serve(
    options: {
      hostname: string;
      port: number;
      cert?: string;
      key?: string;
      onListen?: (addr: { hostname: string; port: number }) => void;
    },
    handler: FetchHandler,
  ): {
    addr: { hostname: string; port: number };
    shutdown(): Promise<void>;
    finished: Promise<void>;
  };
}

interface BunServeApi {
  serve(options: {
    hostname: string;
    port: number;
    fetch: FetchHandler;
    tls?: { cert: string; key: string };
    idleTimeout?: number;
  }): { port: number; stop(closeActive?: boolean): Promise<void> | void };
}

function urlOf(tls: boolean, hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `${tls ? "https" : "http"}://${host}:${port}`;
}

function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
}

/**
 * Serves `handler` on the running runtime until `close()`. The server keeps
 * the process alive while it listens.
 *
 * @param handler Called for every request.
 * @param options Address, port (0 picks one) and optional TLS.
 * @returns The running server, once it listens.
 * @throws {Error} When the runtime cannot listen (neither Deno nor Bun), or
 * the address is taken.
 *
 * @example
 * ```ts
 * import { serveHttp } from "./serve.ts";
 * await using server = await serveHttp(() => new Response("hi"), { hostname: "127.0.0.1", port: 0 });
 * console.log((await fetch(server.url)).status); // 200
 * ```
 */
export function serveHttp(
  handler: FetchHandler,
  options: ServeHttpOptions,
): Promise<HttpServer> {
  const bun = (globalThis as { Bun?: BunServeApi }).Bun;
  const deno = (globalThis as { Deno?: DenoServeApi }).Deno;
  const tls = options.tls !== undefined;
  if (bun !== undefined) {
    const server = bun.serve({
      hostname: options.hostname,
      port: options.port,
      fetch: handler,
      // Clients keep connections between batches; Bun's 10 s default
      // would cut an idle collector's connection mid-reuse.
      idleTimeout: 120,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    });
    const close = once(async () => {
      await server.stop(true);
    });
    return Promise.resolve({
      url: urlOf(tls, options.hostname, server.port),
      port: server.port,
      close,
      [Symbol.asyncDispose]: close,
    });
  }
  if (deno !== undefined) {
    return new Promise((resolve, reject) => {
      try {
        const server = deno.serve({
          hostname: options.hostname,
          port: options.port,
          ...(options.tls === undefined
            ? {}
            : { cert: options.tls.cert, key: options.tls.key }),
          onListen: () => {},
        }, handler);
        const close = once(async () => {
          await server.shutdown();
          await server.finished;
        });
        resolve({
          url: urlOf(tls, options.hostname, server.addr.port),
          port: server.addr.port,
          close,
          [Symbol.asyncDispose]: close,
        });
      } catch (error) {
        reject(error);
      }
    });
  }
  return Promise.reject(
    new Error("serveHttp needs Deno or Bun: this runtime cannot listen"),
  );
}

/** The signals that ask a server process to stop. */
export type StopSignal = "SIGINT" | "SIGTERM";

/**
 * Resolves with the first SIGINT or SIGTERM the process receives (instead
 * of the signal ending it), then stops listening: a second signal ends the
 * process as usual. Rejects where the runtime cannot listen for signals.
 * The listener does not keep the process alive.
 *
 * @returns The signal received.
 *
 * @example
 * ```ts ignore
 * import { waitForStopSignal } from "./serve.ts";
 * console.log(`stopping on ${await waitForStopSignal()}`);
 * ```
 */
export function waitForStopSignal(): Promise<StopSignal> {
  const deno = (globalThis as {
    Deno?: {
      addSignalListener(signal: string, fn: () => void): void;
      removeSignalListener(signal: string, fn: () => void): void;
    };
  }).Deno;
  const process = (globalThis as {
    process?: {
      on(signal: string, fn: () => void): unknown;
      off(signal: string, fn: () => void): unknown;
    };
  }).process;
  return new Promise((resolve, reject) => {
    const signals: StopSignal[] = ["SIGINT", "SIGTERM"];
    const listeners = signals.map((signal) => [signal, () => done(signal)]) as [
      StopSignal,
      () => void,
    ][];
    const done = (signal: StopSignal): void => {
      for (const [name, fn] of listeners) {
        if (deno !== undefined && !("Bun" in globalThis)) {
          deno.removeSignalListener(name, fn);
        } else process?.off(name, fn);
      }
      resolve(signal);
    };
    try {
      for (const [name, fn] of listeners) {
        if (deno !== undefined && !("Bun" in globalThis)) {
          deno.addSignalListener(name, fn);
        } else if (process !== undefined) process.on(name, fn);
        else throw new Error("this runtime cannot listen for signals");
      }
    } catch (error) {
      reject(error);
    }
  });
}
