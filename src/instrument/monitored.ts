/**
 * `@monitored`: a standard (TC39 stage 3) method decorator.
 *
 * @module
 */

import { checkMonitorOptions, type MonitorOptions } from "./_core.ts";
import { PssConfigError } from "../score/config.ts";
import { type AnyFunction, wrapFunction } from "./monitor_function.ts";

/** The class that declares `method` as `key`, found from `self` (a class or an instance). */
function declaringClassName(
  self: unknown,
  key: string | symbol,
  method: unknown,
): string {
  try {
    let holder: unknown = self;
    while (holder !== null && holder !== undefined) {
      if (
        Object.hasOwn(holder as object, key) &&
        (holder as Record<string | symbol, unknown>)[key] === method
      ) {
        if (typeof holder === "function") return holder.name; // static
        const ctor = (holder as { constructor?: { name?: unknown } })
          .constructor;
        return typeof ctor?.name === "string" ? ctor.name : "";
      }
      holder = Object.getPrototypeOf(holder);
    }
  } catch {
    // Fall through to the unnamed form.
  }
  return "";
}

/**
 * Decorates a class method (instance or static, sync or async) so every call
 * records a trace, as {@linkcode monitorFunction} does. Uses standard
 * decorators (TypeScript 5+, without `experimentalDecorators`); the same
 * source works on Deno 2 and Bun 1.
 *
 * The default name is `Class.method`, with the class that declares the
 * method (also for inherited calls, and for a subclass that overrides a
 * decorated method with its own decorated one), fixed before the first
 * call: calling a detached method (`const { ping } = api; ping()`) does not
 * change it. Generators and promises pass through as with
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
      if (resolved !== undefined) return;
      const className = declaringClassName(self, key, wrapped);
      if (className !== "") resolved = `${className}.${methodName}`;
    };
    const nameOf = (self: unknown): string => {
      if (resolved === undefined) resolve(self);
      return resolved ?? methodName;
    };
    wrapped = wrapFunction(method, nameOf, options, "@monitored");
    try {
      context.addInitializer(function (this: unknown) {
        if (resolved === undefined) resolve(this);
      });
    } catch {
      // A runtime without initializers: names come from the calls.
    }
    return wrapped;
  };
}
