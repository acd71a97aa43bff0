/**
 * This process's id and host name, read once when instrumentation loads:
 * every trace it records carries them (internal).
 *
 * @module
 */

import { runtime } from "../runtime/adapter.ts";

function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** The id of this process, when the runtime has one. */
export const PROCESS_ID: number | undefined = safely(() => runtime.process.pid);

/** The host name, when the runtime may read it. */
export const HOST_NAME: string | undefined = safely(() =>
  runtime.process.hostname()
);
