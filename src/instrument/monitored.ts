/**
 * `@monitored`: a standard (TC39 stage 3) method decorator.
 *
 * @module
 */

import { checkMonitorOptions, type MonitorOptions } from "./_core.ts";
import { PssConfigError } from "../score/config.ts";
import { type AnyFunction, wrapFunction } from "./monitor_function.ts";

/**
 * Where decorator metadata is kept on a class: `Symbol.metadata` where the
 * runtime has it (Deno), else the registered symbol TypeScript's and Bun's
 * decorators fall back to.
 */
const METADATA_KEYS: readonly symbol[] = [
  ...new Set([
    (Symbol as { metadata?: symbol }).metadata,
    Symbol.for("Symbol.metadata"),
  ]),
].filter((key): key is symbol => typeof key === "symbol");

/** The class `holder` stands for: itself (static side) or its own `constructor`. */
function classOf(holder: object): unknown {
  if (typeof holder === "function") return holder;
  return Object.hasOwn(holder, "constructor")
    ? (holder as { constructor: unknown }).constructor
    : undefined;
}

/**
 * The name of the class whose decorator metadata is `metadata`, found up
 * the chain of `self` (a class or an instance). Every decorated class has
 * its own metadata object, so this is the class that declares the method,
 * whatever decorators wrap it and whether or not it is private.
 */
function metadataClassName(self: unknown, metadata: unknown): string {
  if (metadata === null || typeof metadata !== "object") return "";
  let holder: unknown = self;
  while (holder !== null && holder !== undefined) {
    const klass = classOf(holder as object);
    if (typeof klass === "function") {
      for (const key of METADATA_KEYS) {
        if (
          Object.hasOwn(klass, key) &&
          (klass as unknown as Record<symbol, unknown>)[key] === metadata
        ) return klass.name;
      }
    }
    holder = Object.getPrototypeOf(holder);
  }
  return "";
}

/**
 * The class that declares `method` as `key`, found from `self` (a class or
 * an instance) without decorator metadata: the holder whose `key` is
 * `method` itself, else (another decorator wrapped it after this one) the
 * first holder that owns `key`.
 */
function holderClassName(
  self: unknown,
  key: string | symbol,
  method: unknown,
): string {
  let holder: unknown = self;
  let first: object | undefined;
  while (holder !== null && holder !== undefined) {
    if (Object.hasOwn(holder as object, key)) {
      first ??= holder as object;
      if ((holder as Record<string | symbol, unknown>)[key] === method) break;
    }
    holder = Object.getPrototypeOf(holder);
  }
  const found = (holder ?? first) as object | undefined;
  const klass = found === undefined ? undefined : classOf(found);
  return typeof klass === "function" ? klass.name : "";
}

/** The name of the class that declares the decorated method, or `""`. */
function declaringClassName(
  self: unknown,
  context: ClassMethodDecoratorContext,
  method: unknown,
): string {
  try {
    const byMetadata = metadataClassName(self, context.metadata);
    if (byMetadata !== "") return byMetadata;
    if (context.private) {
      // A private name is on no prototype: the class of `self` is the best
      // guess left.
      const klass = context.static
        ? self
        : (self as { constructor?: unknown } | undefined)?.constructor;
      return typeof klass === "function" ? klass.name : "";
    }
    return holderClassName(self, context.name, method);
  } catch {
    // A proxy or an exotic object: the unnamed form.
    return "";
  }
}

/**
 * Decorates a class method (instance or static, sync or async) so every call
 * records a trace, as {@linkcode monitorFunction} does. Uses standard
 * decorators (TypeScript 5+, without `experimentalDecorators`); the same
 * source works on Deno 2 and Bun 1.
 *
 * The default name is `Class.method`, with the class that declares the
 * method (also for inherited calls, for a subclass that overrides a
 * decorated method with its own decorated one, under other decorators
 * stacked on it, and as `Class.#method` for a private one), found from the
 * class's decorator metadata and fixed before the first call: calling a
 * detached method (`const { ping } = api; ping()`) does not change it. Generators and promises pass through as with
 * {@linkcode monitorFunction}.
 *
 * @param name Trace name. @default {"ClassName.method", with the class that declares the method}
 * @param options See {@linkcode MonitorOptions}.
 * @returns The method decorator.
 * @throws {PssConfigError} For an invalid or unknown option, as
 * {@linkcode monitorFunction} does, when the decorator is created.
 *
 * @example
 * ```ts
 * import { MemoryCollector, monitored, setGlobalCollector } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const traces = new MemoryCollector();
 * setGlobalCollector(traces); // where monitors without a collector send traces
 * class UserService {
 *   @monitored()
 *   async load(id: string): Promise<{ id: string }> {
 *     return { id }; // traced as "UserService.load"
 *   }
 *
 *   @monitored("users.validate", { branchTag: "strict" })
 *   validate(id: string): boolean {
 *     return id.length > 0;
 *   }
 * }
 * await new UserService().load("u1");
 * assert.equal(new UserService().validate("u1"), true);
 * assert.deepEqual(traces.snapshot().map((t) => t.name), ["UserService.load", "users.validate"]);
 * ```
 */
export function monitored(
  name?: string,
  options?: MonitorOptions,
): <F extends AnyFunction>(
  method: F,
  context: ClassMethodDecoratorContext,
) => F {
  if (typeof name === "function") {
    // `@monitored` without the call: the decorator got the method itself.
    throw new PssConfigError(
      "name",
      (name as { name?: string }).name,
      "@monitored is a decorator factory: write @monitored() or " +
        '@monitored("name")',
    );
  }
  if (name !== undefined && typeof name !== "string") {
    throw new PssConfigError(
      "name",
      name,
      "@monitored's name must be a string",
    );
  }
  checkMonitorOptions("@monitored", options);
  return <F extends AnyFunction>(
    method: F,
    context: ClassMethodDecoratorContext,
  ): F => {
    const key = context.name;
    const methodName = typeof key === "symbol" ? (key.description ?? "") : key;
    let resolved = name;
    let wrapped: F | undefined = undefined;
    // The class is not known when a method is decorated; it is when the
    // decorator's initializer runs: with the class itself for a static
    // method (while the class is defined), with the first instance for an
    // instance method (before its constructor body). Both come before any
    // call, so the name never depends on how a call's `this` looks.
    const resolve = (self: unknown): void => {
      const className = declaringClassName(self, context, wrapped);
      if (className !== "") resolved = `${className}.${methodName}`;
    };
    const nameOf = (self: unknown): string => {
      if (resolved === undefined) resolve(self);
      return resolved ?? methodName;
    };
    wrapped = wrapFunction(method, nameOf, options, "@monitored");
    try {
      context.addInitializer(function (this: unknown) {
        if (resolved !== undefined) return;
        resolve(this);
        // Fixed here even when no class name was found (an anonymous
        // class), so no call walks the prototypes again.
        resolved ??= methodName;
      });
    } catch {
      // A runtime without initializers: names come from the calls.
    }
    return wrapped;
  };
}
