/**
 * Opt-in source locations (`captureSource`): the first stack frame outside
 * this folder. Stack formats: V8 (`    at f (file:///a.ts:3:9)`) and
 * JavaScriptCore (`f@file:///a.ts:3:9`).
 *
 * @module
 */

const OWN_DIR_URL = new URL(".", import.meta.url);
/** This folder as a URL (V8 stacks) and as a path (JavaScriptCore stacks). */
const OWN_DIRS = [OWN_DIR_URL.href, decodeURIComponent(OWN_DIR_URL.pathname)];
const LOCATION = /((?:[a-z][a-z0-9+.-]*:\/\/?|\/)[^\s()@]*?):(\d+):\d+\)?\s*$/i;

/** A source location. */
export interface SourceLocation {
  filename: string;
  lineno: number;
}

/** The stack of the caller, unparsed (parsing waits until a trace is kept). */
export function captureStack(): string | undefined {
  try {
    return new Error().stack;
  } catch {
    return undefined;
  }
}

/** The first frame of `stack` outside pss's instrumentation code. */
export function locate(stack: string | undefined): SourceLocation | undefined {
  if (stack === undefined) return undefined;
  for (const line of stack.split("\n")) {
    const match = LOCATION.exec(line);
    if (match === null) continue;
    const filename = match[1];
    if (OWN_DIRS.some((dir) => filename.startsWith(dir))) continue;
    return { filename, lineno: Number(match[2]) };
  }
  return undefined;
}
