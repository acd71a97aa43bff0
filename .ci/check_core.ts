/**
 * Checks that the core stays web-standard and that runtime specifics stay in
 * `src/runtime/`:
 *
 * 1. The module graph of `mod.ts` (`deno info --json mod.ts`) has no
 *    `node:`, `bun:`, `npm:` or `jsr:` specifier: the core entry loads on a
 *    runtime that is neither Deno nor Bun.
 * 2. No file of `src/` outside `src/runtime/` (and the generated code)
 *    names `Deno`, `Bun`, the `process` global or a `node:`/`bun:` module.
 * 3. Every example that `deno test --doc` runs (a `ts` or `typescript`
 *    block without `ignore` in `mod.ts`, `src/` or `README.md`) checks
 *    something: it calls `assert` or throws under a condition, or says `(no result to check)`
 *    because all it shows is a side effect (registering a benchmark).
 *
 * Run by the `check` task: `deno run --allow-read --allow-run .ci/check_core.ts`.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);
/**
 * Files allowed to touch the runtime besides src/runtime/: the agent's
 * HTTP/2 adapter (`node:http2`: a fetch handler cannot send gRPC trailers).
 */
const ALLOWED: readonly string[] = ["src/agent/_h2c.ts"];
const EXEMPT_DIRS = ["src/runtime/", "src/gen/"];

const problems: string[] = [];

async function run(label: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    problems.push(
      `${label} failed:\n${decoder.decode(output.stdout)}${
        decoder.decode(output.stderr)
      }`,
    );
  }
  return decoder.decode(output.stdout);
}

// 1. The core's module graph.
interface InfoModule {
  specifier: string;
  dependencies?: { specifier: string }[];
}
const info = JSON.parse(
  await run("deno info --json mod.ts", ["info", "--json", "mod.ts"]),
) as {
  modules: InfoModule[];
};
const outside = /^(node|bun|npm|jsr):/;
let local = 0;
for (const module of info.modules) {
  if (module.specifier.startsWith("file:")) local++;
  if (outside.test(module.specifier)) {
    problems.push(`mod.ts's graph loads ${module.specifier}`);
  }
  for (const dependency of module.dependencies ?? []) {
    if (outside.test(dependency.specifier)) {
      problems.push(
        `${module.specifier} imports ${dependency.specifier} (in mod.ts's graph)`,
      );
    }
  }
}

// 2. Runtime globals outside src/runtime/.
// Patterns on the code without comments or string literals (a message may
// name `Deno.bench`) ...
const forbiddenInCode: [RegExp, string][] = [
  [/\bDeno\s*\./, "Deno.*"],
  [/\bBun\s*\./, "Bun.*"],
  [/globalThis\s*\.\s*(Deno|Bun|process)\b/, "globalThis.<runtime>"],
  [
    /\bglobalThis\b[^;\n]*?\)\s*\.\s*(Deno|Bun|process)\b/,
    "globalThis.<runtime>",
  ],
  [/\brequire\s*\(/, "require()"],
];
// ... and on the code without comments, for what is spelled in strings.
const forbiddenWithStrings: [RegExp, string][] = [
  [/globalThis\s*\[\s*["'](Deno|Bun|process)["']/, "globalThis.<runtime>"],
  [/["'](Deno|Bun|process)["']\s+in\s+globalThis/, "a runtime probe"],
  [/\b(from|import)\s*\(?\s*["'](node|bun):/, "a node:/bun: import"],
];

/** `text` with every non-newline character of each match blanked, so lines keep their numbers. */
function blank(text: string, pattern: RegExp): string {
  return text.replace(pattern, (match) => match.replace(/[^\n]/g, " "));
}

async function* sources(dir: URL, path: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const child = `${path}${entry.name}`;
    if (entry.isDirectory) {
      yield* sources(new URL(`${entry.name}/`, dir), `${child}/`);
    } else if (entry.name.endsWith(".ts")) yield child;
  }
}

let scanned = 0;
for await (const path of sources(new URL("src/", ROOT), "src/")) {
  if (EXEMPT_DIRS.some((dir) => path.startsWith(dir))) continue;
  if (ALLOWED.includes(path)) continue;
  scanned++;
  const source = await Deno.readTextFile(new URL(path, ROOT));
  const code = blank(
    blank(source, /\/\*[\s\S]*?\*\//g),
    /(?<![:"'])\/\/[^\n]*/g,
  );
  const bare = blank(
    code,
    /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g,
  );
  const checks = [
    ...forbiddenInCode.map(([pattern, what]) => [pattern, what, bare] as const),
    ...forbiddenWithStrings.map(([pattern, what]) =>
      [pattern, what, code] as const
    ),
  ];
  for (const [pattern, what, text] of checks) {
    const match = pattern.exec(text);
    if (match !== null) {
      const line = text.slice(0, match.index).split("\n").length;
      problems.push(`${path}:${line}: ${what} outside src/runtime/`);
    }
  }
}
// The `process` global, told apart from local variables by deno lint.
await run("deno lint (the process and Node globals)", [
  "lint",
  "--rules-tags=",
  "--rules-include=no-process-global,no-node-globals",
  ...(await Array.fromAsync(sources(new URL("src/", ROOT), "src/"))).filter(
    (path) =>
      !EXEMPT_DIRS.some((dir) => path.startsWith(dir)) &&
      !ALLOWED.includes(path),
  ),
]);

// 3. Doc examples that run but check nothing.
/**
 * A call of `assert` or one of its methods, or a throw under a condition
 * (`if (...) throw`): an unconditional throw in the code under test is not a
 * check of anything.
 */
const CHECKS = /\bassert(?:\.\w+)?\s*\(|\bif\s*\([^\n]*\)\s*\{?\s*throw\b/;
const NO_RESULT = "(no result to check)";
/** A fenced block, possibly inside a JSDoc comment (` * ` before each line). */
const FENCE = /^([ \t]*(?:\*[ \t]?)?)```(\w*)([^\n]*)\n([\s\S]*?)^\1```/gm;

let examples = 0;

/** Where in `text` the examples that run but check nothing start. */
function uncheckedExamples(text: string): number[] {
  const lines: number[] = [];
  for (const match of text.matchAll(FENCE)) {
    const [, , language, attributes, body] = match;
    if (language !== "ts" && language !== "typescript") continue;
    if (/\bignore\b/.test(attributes)) continue;
    examples++;
    if (CHECKS.test(body) || body.includes(NO_RESULT)) continue;
    lines.push(text.slice(0, match.index).split("\n").length);
  }
  return lines;
}

const documented = [
  "mod.ts",
  "README.md",
  ...(await Array.fromAsync(sources(new URL("src/", ROOT), "src/"))).filter(
    (path) => !path.startsWith("src/gen/"),
  ),
];
for (const path of documented) {
  const text = await Deno.readTextFile(new URL(path, ROOT));
  for (const line of uncheckedExamples(text)) {
    problems.push(
      `${path}:${line}: a doc example that runs but checks nothing: ` +
        `assert its result, or say "${NO_RESULT}" if it only has a side effect`,
    );
  }
}

if (problems.length > 0) {
  console.error(`check_core: ${problems.length} problem(s)`);
  for (const problem of problems) console.error(`  ${problem}`);
  Deno.exit(1);
}
console.log(
  `check_core: mod.ts's graph has ${local} modules and no node:/bun:/npm:/jsr: ` +
    `specifier; ${scanned} files of src/ outside src/runtime/ use no runtime global; ` +
    `the ${examples} examples that deno test --doc runs check their result`,
);
