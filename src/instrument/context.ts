/**
 * Request-scoped tags that every trace recorded inside an async call chain
 * carries in its `metadata`.
 *
 * @module
 */

import { runtime } from "../runtime/adapter.ts";
import type { ContextStorage } from "../runtime/types.ts";
import { PssConfigError } from "../score/config.ts";
import { reportOptionProblem } from "./settings.ts";

/**
 * Tags attached to traces: plain JSON-able values.
 *
 * @example
 * ```ts
 * import { currentTags, type TraceTags, withTags } from "@pss/pss";
 * import assert from "node:assert/strict";
 * withTags({ tenant: "acme" }, () => {
 *   withTags({ requestId: "r-42" }, () => {
 *     const tags: TraceTags | undefined = currentTags();
 *     assert.deepEqual(tags, { tenant: "acme", requestId: "r-42" });
 *   });
 * });
 * ```
 */
export type TraceTags = Readonly<Record<string, unknown>>;

/**
 * Whether tags follow async call chains here (`AsyncLocalStorage` on Deno
 * and Bun). Where `false`, {@linkcode withTags} only tags traces recorded
 * during the synchronous part of its callback.
 *
 * @example
 * ```ts
 * import { tagsFollowAwait } from "@pss/pss";
 * import assert from "node:assert/strict";
 * assert.equal(tagsFollowAwait, true); // on Deno and Bun
 * ```
 */
export const tagsFollowAwait: boolean = runtime.createContextStorage() !==
  undefined;

/** Storage for environments without async context: the synchronous scope only. */
class SyncScopeStorage<T> implements ContextStorage<T> {
  #store: T | undefined;
  getStore(): T | undefined {
    return this.#store;
  }
  run<R>(store: T, fn: () => R): R {
    const previous = this.#store;
    this.#store = store;
    try {
      return fn();
    } finally {
      this.#store = previous;
    }
  }
}

const storage: ContextStorage<TraceTags> =
  runtime.createContextStorage<TraceTags>() ?? new SyncScopeStorage();

/** False until the first `withTags`, so monitors skip the lookup (internal). */
export let tagsInUse = false;

/**
 * The tags of the innermost {@linkcode withTags} around the caller, or
 * `undefined`.
 *
 * @returns The frozen tags object, shared by every trace that carries it.
 *
 * @example
 * ```ts
 * import { currentTags, withTags } from "@pss/pss";
 * import assert from "node:assert/strict";
 * assert.equal(withTags({ requestId: "r-1" }, () => currentTags()?.requestId), "r-1");
 * assert.equal(currentTags(), undefined); // outside every withTags
 * ```
 */
export function currentTags(): TraceTags | undefined {
  return tagsInUse ? storage.getStore() : undefined;
}

function badTags(_owner: string, _key: string, tags: unknown): unknown {
  return new PssConfigError(
    "tags",
    tags,
    "withTags' 'tags' must be an object of tags",
  );
}

/**
 * Runs `fn` so that every trace recorded inside it, including after
 * `await`s, in timers and in promise callbacks it starts, carries `tags` in
 * its `metadata`. Nested calls merge (inner keys win); concurrent calls do
 * not see each other's tags. Without async context (see
 * {@linkcode tagsFollowAwait}) only the synchronous part of `fn` is tagged.
 *
 * @param tags Request-scoped metadata, copied and frozen once here. Tags
 * that are not an object (`null`, a number, an array) are reported once to
 * `onError` (source `"options"`) and `fn` runs with the tags around it, as
 * this runs inside your code path.
 * @param fn The call chain to tag; its result (or promise) is returned as is.
 * @returns What `fn` returns.
 * @throws {PssConfigError} When `fn` is not a function (there is nothing to
 * run).
 *
 * @example Tag every trace of one request
 * ```ts
 * import { MemoryCollector, monitorAsync, withTags } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * async function handle(requestId: string): Promise<void> {
 *   await withTags({ requestId }, async () => {
 *     await using _ = monitorAsync("load_user", { collector });
 *     await Promise.resolve();
 *   });
 * }
 * await handle("r-42");
 * assert.deepEqual(collector.snapshot()[0].metadata, { requestId: "r-42" });
 * ```
 */
export function withTags<R>(tags: Record<string, unknown>, fn: () => R): R {
  if (typeof fn !== "function") {
    throw new PssConfigError("fn", fn, "withTags' 'fn' must be a function");
  }
  if (tags === null || typeof tags !== "object" || Array.isArray(tags)) {
    // Inside the host's code path: reported once, and fn runs untagged.
    reportOptionProblem("withTags", "tags", tags, badTags);
    return fn();
  }
  tagsInUse = true;
  const outer = storage.getStore();
  const merged: Record<string, unknown> = {};
  if (outer !== undefined) Object.assign(merged, outer);
  for (const key of Object.keys(tags)) {
    // Define semantics: a "__proto__" tag stays a plain key.
    Object.defineProperty(merged, key, {
      value: tags[key],
      enumerable: true,
      writable: false,
      configurable: false,
    });
  }
  return storage.run(Object.freeze(merged), fn);
}
