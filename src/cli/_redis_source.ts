/**
 * `redis://host:port/db?key=NAME[&mode=list|stream]` as a trace source for
 * the CLI. Loaded only when such a URL is given, so the rest of the CLI
 * never resolves the Redis client.
 *
 * @module
 */

import { RedisCollector } from "../collect/redis.ts";
import type { RawEntry, TraceSource } from "../collect/read.ts";

/** A Redis key read as a trace source; `close()` ends the connection. */
export interface RedisSource extends TraceSource {
  /** Ends the connection; never rejects. */
  close(): Promise<void>;
}

/**
 * Opens the Redis key a `redis://` URL names. Without `mode`, the key is
 * read as a list and, when Redis answers that it holds another type, as a
 * stream.
 *
 * @param spec The URL.
 * @returns The source.
 * @throws {Error} When the URL has no `key` or an unknown `mode`.
 */
export function openRedisSource(spec: string): RedisSource {
  const url = new URL(spec);
  const key = url.searchParams.get("key");
  if (key === null || key === "") {
    throw new Error(
      `a Redis source needs its key: ${url.origin}${url.pathname}?key=NAME`,
    );
  }
  const mode = url.searchParams.get("mode");
  if (mode !== null && mode !== "list" && mode !== "stream") {
    throw new Error(
      `a Redis source's mode must be list or stream: got ${mode}`,
    );
  }
  const base = `${url.protocol}//${
    url.username
      ? `${url.username}${url.password ? `:${url.password}` : ""}@`
      : ""
  }${url.host}${url.pathname}`;
  const open = (as: "list" | "stream"): RedisCollector =>
    new RedisCollector({
      url: base,
      key,
      mode: as,
      connectTimeoutMs: 3000,
      onError: () => {},
    });
  let collector: RedisCollector | undefined;
  return {
    async *readRawEntries(): AsyncGenerator<RawEntry> {
      const tries: ("list" | "stream")[] = mode === null
        ? ["list", "stream"]
        : [mode];
      for (const [i, as] of tries.entries()) {
        await collector?.close();
        collector = open(as);
        const entries = collector.readRawEntries()[Symbol.asyncIterator]();
        let first: IteratorResult<RawEntry>;
        try {
          first = await entries.next();
        } catch (error) {
          if (i + 1 < tries.length && /WRONGTYPE/.test(String(error))) {
            continue;
          }
          if (/WRONGTYPE/.test(String(error))) {
            throw new Error(
              `the key ${key} holds neither a list nor a stream`,
            );
          }
          throw error;
        }
        if (first.done) return;
        yield first.value;
        for (
          let next = await entries.next();
          !next.done;
          next = await entries.next()
        ) {
          yield next.value;
        }
        return;
      }
    },
    async close(): Promise<void> {
      try {
        await collector?.close();
      } catch {
        // Nothing was added: there is nothing to lose.
      }
    },
  };
}
