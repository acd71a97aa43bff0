/**
 * Opening a named pipe for writing with a bounded wait, shared by the Deno
 * and Bun file ports.
 *
 * @module
 */

/**
 * Opens a named pipe for writing with a bounded wait, given the runtime's
 * plain opens: shared by both adapters.
 *
 * @param open Opens `path` for writing (blocks until a reader comes) or
 * reading (succeeds at once when a writer is waiting).
 */
export async function openPipeWithin<F extends { close(): void }>(
  path: string | URL,
  waitMs: number,
  open: (path: string | URL, mode: "write" | "read") => Promise<F>,
): Promise<F> {
  const opening = open(path, "write");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), waitMs);
  });
  const first = await Promise.race([opening, waited]).finally(() =>
    clearTimeout(timer)
  );
  if (first !== "late") return first;
  // No reader came: be the reader for a moment, so the writer's open
  // returns, then close both ends.
  const reader = await open(path, "read");
  (await opening.catch(() => undefined))?.close();
  reader.close();
  throw Object.assign(
    new Error(
      `no process reads the named pipe ${String(path)} (waited ${waitMs} ms)`,
    ),
    { code: "ENXIO" },
  );
}
