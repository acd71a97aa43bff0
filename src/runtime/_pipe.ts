/**
 * Opening a named pipe for writing with a bounded wait, shared by the Deno
 * and Bun file ports.
 *
 * @module
 */

import type { PipeOpenOptions } from "./types.ts";

/**
 * Opens a named pipe for writing with a bounded wait, given the runtime's
 * plain opens: shared by both adapters.
 *
 * @param open Opens `path` for writing (blocks until a reader comes) or
 * reading (succeeds at once when a writer is waiting).
 */
export async function openPipeWithin<F extends { close(): void }>(
  path: string | URL,
  options: PipeOpenOptions,
  open: (path: string | URL, mode: "write" | "read") => Promise<F>,
): Promise<F> {
  const { waitMs, signal } = options;
  signal?.throwIfAborted();
  const opening = open(path, "write");
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = (): void => {};
  const waited = new Promise<"late" | "aborted">((resolve) => {
    timer = setTimeout(() => resolve("late"), waitMs);
    onAbort = () => resolve("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  const first = await Promise.race([opening, waited]).finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  });
  if (first !== "late" && first !== "aborted") return first;
  // No reader came (or the caller gave up): be the reader for a moment, so
  // the writer's open returns, then close both ends. Left pending, the open
  // would keep the process alive.
  const reader = await open(path, "read");
  (await opening.catch(() => undefined))?.close();
  reader.close();
  if (first === "aborted") throw signal?.reason;
  throw Object.assign(
    new Error(
      `no process reads the named pipe ${String(path)} (waited ${waitMs} ms)`,
    ),
    { code: "ENXIO" },
  );
}
