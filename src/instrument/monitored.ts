/**
 * `@monitored`: a standard (TC39 stage 3) method decorator.
 *
 * @module
 */

import type { MonitorOptions } from "./_core.ts";
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
 * @param name Trace name. @default {"ClassName.method", with the class that declares the method}
 * @param options See {@linkcode MonitorOptions}.
 * @returns The method decorator.
 *
 * @example
 * ```ts
 * import { monitored } from "@pss/pss";
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
 * ```
 */
export function monitored(
  name?: string,
  options?: MonitorOptions,
): <F extends AnyFunction>(
  method: F,
  context: ClassMethodDecoratorContext,
) => F {
  return <F extends AnyFunction>(
    method: F,
    context: ClassMethodDecoratorContext,
  ): F => {
    const key = context.name;
    const methodName = typeof key === "symbol" ? (key.description ?? "") : key;
    let resolved = name;
    let wrapped: F | undefined = undefined;
    const nameOf = (self: unknown): string => {
      if (resolved === undefined) {
        const className = declaringClassName(self, key, wrapped);
        resolved = className === "" ? methodName : `${className}.${methodName}`;
      }
      return resolved;
    };
    wrapped = wrapFunction(method, nameOf, options);
    return wrapped;
  };
}
