/**
 * Native gRPC for the agent: an HTTP/2 server from `node:http2` (Deno and
 * Bun both implement it) that hands each request to Connect's universal
 * handler. A fetch handler cannot answer gRPC (a fetch `Response` carries
 * no trailers) and `Bun.serve` has no cleartext HTTP/2, so this is the one
 * place the agent uses a `node:` module. Reached only from `serveAgent`.
 *
 * @module
 */

import * as http2 from "node:http2";
import type {
  UniversalHandlerFn,
  UniversalServerRequest,
} from "@connectrpc/connect/protocol";
import { messageOf } from "../_message.ts";

/** A listening HTTP/2 server. */
export interface Http2Server {
  /** `http://host:port` or `https://host:port`. */
  url: string;
  /** The bound port. */
  port: number;
  /** Stops listening and ends open sessions. Idempotent. */
  close(): Promise<void>;
}

/** Where the gRPC server listens. */
export interface H2Options {
  hostname: string;
  port: number;
  tls?: { cert: string; key: string };
}

/**
 * Serves `handler` over HTTP/2: cleartext (h2c, prior knowledge) or, with
 * `tls`, HTTPS with ALPN `h2`.
 *
 * @param handler The agent's routes as a universal handler.
 * @param options Address, port (0 picks one) and optional TLS.
 * @returns The listening server.
 */
export function serveHttp2(
  handler: UniversalHandlerFn,
  options: H2Options,
): Promise<Http2Server> {
  const onRequest = (
    req: http2.Http2ServerRequest,
    res: http2.Http2ServerResponse,
  ): void => {
    void answer(handler, req, res);
  };
  const server = options.tls === undefined
    ? http2.createServer({}, onRequest)
    : http2.createSecureServer(
      { cert: options.tls.cert, key: options.tls.key, allowHTTP1: false },
      onRequest,
    );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once("error", onError);
    server.listen(options.port, options.hostname, () => {
      server.off("error", onError);
      const address = server.address();
      const port = typeof address === "object" && address !== null
        ? address.port
        : options.port;
      let closing: Promise<void> | undefined;
      const close = (): Promise<void> =>
        closing ??= new Promise<void>((done) => {
          server.close(() => done());
          for (const session of sessions) {
            try {
              session.close();
              session.destroy();
            } catch {
              // Already gone.
            }
          }
        });
      const host = options.hostname.includes(":")
        ? `[${options.hostname}]`
        : options.hostname;
      resolve({
        url: `${
          options.tls === undefined ? "http" : "https"
        }://${host}:${port}`,
        port,
        close,
      });
    });
  });
}

async function answer(
  handler: UniversalHandlerFn,
  req: http2.Http2ServerRequest,
  res: http2.Http2ServerResponse,
): Promise<void> {
  const abort = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) abort.abort(new Error("client went away"));
  });
  try {
    const header = new Headers();
    for (const [key, value] of Object.entries(req.headers)) {
      if (key.startsWith(":") || value === undefined) continue;
      if (Array.isArray(value)) {
        for (const item of value) header.append(key, item);
      } else header.set(key, String(value));
    }
    const authority = req.headers[":authority"] ?? "localhost";
    const request: UniversalServerRequest = {
      httpVersion: "2.0",
      method: req.method,
      url: `http://${authority}${req.url}`,
      header,
      body: bodyOf(req),
      signal: abort.signal,
    };
    const response = await handler(request);
    const head: Record<string, string> = {};
    response.header?.forEach((value, key) => {
      head[key] = value;
    });
    res.writeHead(response.status, head);
    if (response.body !== undefined) {
      for await (const chunk of response.body) {
        if (!res.write(chunk)) {
          await new Promise<void>((drained) => res.once("drain", drained));
        }
      }
    }
    if (response.trailer !== undefined) {
      const trailers: Record<string, string> = {};
      response.trailer.forEach((value, key) => {
        trailers[key] = value;
      });
      if (Object.keys(trailers).length > 0) res.addTrailers(trailers);
    }
    res.end();
  } catch (error) {
    try {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(messageOf(error));
      } else res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    } catch {
      // The stream is gone.
    }
  }
}

async function* bodyOf(
  req: http2.Http2ServerRequest,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of req) {
    yield typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
  }
}
