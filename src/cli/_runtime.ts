/**
 * The CLI's runtime adapter: arguments, standard streams, whole-file reads
 * and writes, and exit, on Deno or Bun, chosen once at load.
 *
 * @module
 */

/**
 * What the CLI needs from the process it runs in.
 *
 * @example Run the CLI in memory
 * ```ts
 * import { type CliIo, runCli } from "@pss/pss/cli";
 * let out = "";
 * const io: CliIo = {
 *   stdout: (text) => Promise.resolve(void (out += text)),
 *   stderr: () => Promise.resolve(),
 *   stdin: async function* () { yield new TextEncoder().encode('{"name":"op","duration":0.1}\n'); },
 *   readTextFile: () => Promise.reject(new Error("no files here")),
 *   writeTextFile: () => Promise.reject(new Error("no files here")),
 * };
 * console.log(await runCli(["score", "-", "--format", "json"], io), JSON.parse(out).pss); // 0 100
 * ```
 */
export interface CliIo {
  /** Writes all of `text` to standard output. */
  stdout(text: string): Promise<void>;
  /** Writes all of `text` to standard error. */
  stderr(text: string): Promise<void>;
  /** Standard input as a byte stream. */
  stdin(): AsyncIterable<Uint8Array>;
  /** Reads a whole UTF-8 file; rejects with the runtime's error. */
  readTextFile(path: string): Promise<string>;
  /**
   * Writes (creates or replaces) a whole UTF-8 file, creating missing
   * parent directories (as Bun's `Bun.write` does, so both runtimes behave
   * alike); rejects with the runtime's error.
   */
  writeTextFile(path: string, text: string): Promise<void>;
  /**
   * Whether standard error is a terminal (progress is shown only there).
   * Missing means no.
   */
  stderrIsTerminal?(): boolean;
}

/** The process of the running runtime: its arguments and how to exit. */
export interface CliProcess extends CliIo {
  /** The arguments after the program (and script) name. */
  readonly args: readonly string[];
  /** Ends the process with `code`. */
  exit(code: number): never;
}

interface BunSink {
  readonly _brand?: "BunFile";
}

interface BunGlobal {
  argv: string[];
  stdin: { stream(): ReadableStream<Uint8Array> };
  stdout: BunSink;
  stderr: BunSink;
  file(path: string): BunSink & { text(): Promise<string> };
  write(destination: BunSink | string, data: string): Promise<number>;
}

interface ProcessGlobal {
  exit(code: number): never;
  stderr?: { isTTY?: boolean };
}

/** The directory part of a path, or `undefined` for a bare file name. */
function parentOf(path: string): string | undefined {
  const slash = path.lastIndexOf("/");
  return slash > 0 ? path.slice(0, slash) : undefined;
}

const encoder = new TextEncoder();

function denoProcess(): CliProcess {
  const writeAll = async (
    stream: { write(bytes: Uint8Array): Promise<number> },
    text: string,
  ): Promise<void> => {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) {
      offset += await stream.write(bytes.subarray(offset));
    }
  };
  return {
    args: Deno.args,
    stdout: (text) => writeAll(Deno.stdout, text),
    stderr: (text) => writeAll(Deno.stderr, text),
    stdin: () => Deno.stdin.readable,
    readTextFile: (path) => Deno.readTextFile(path),
    writeTextFile: async (path, text) => {
      const parent = parentOf(path);
      if (parent !== undefined) await Deno.mkdir(parent, { recursive: true });
      await Deno.writeTextFile(path, text);
    },
    stderrIsTerminal: () => Deno.stderr.isTerminal(),
    exit: (code) => Deno.exit(code),
  };
}

function bunProcess(bun: BunGlobal): CliProcess {
  const process = (globalThis as unknown as { process: ProcessGlobal })
    .process;
  return {
    args: bun.argv.slice(2),
    stdout: async (text) => {
      await bun.write(bun.stdout, text);
    },
    stderr: async (text) => {
      await bun.write(bun.stderr, text);
    },
    stdin: () => bun.stdin.stream(),
    readTextFile: (path) => bun.file(path).text(),
    writeTextFile: async (path, text) => {
      // Bun.write creates missing parent directories.
      await bun.write(path, text);
    },
    stderrIsTerminal: () => process.stderr?.isTTY === true,
    exit: (code) => process.exit(code),
  };
}

const bun = (globalThis as unknown as { Bun?: BunGlobal }).Bun;

/** The process the CLI runs in, probed once at load; `undefined` outside Deno and Bun. */
export const cliProcess: CliProcess | undefined = bun !== undefined
  ? bunProcess(bun)
  : "Deno" in globalThis
  ? denoProcess()
  : undefined;
