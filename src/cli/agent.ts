/**
 * `pss agent`: run the trace-receiving agent until SIGINT or SIGTERM, then
 * flush its sink and exit.
 *
 * ```sh
 * pss agent --port 7411 --sink redis://127.0.0.1:6379 --grpc-port 50051
 * ```
 *
 * @module
 */

import type { CliIo } from "../runtime/types.ts";
import type { Collector } from "../collect/collector.ts";
import { MemoryCollector } from "../collect/memory.ts";
import { DEFAULT_AGENT_PORT, serveAgent } from "../agent/serve.ts";
import { runtime } from "../runtime/adapter.ts";
import type { ExitSignal } from "../runtime/types.ts";
import { messageOf } from "../_message.ts";

/** The usage text of `pss agent`. */
export const AGENT_USAGE: string = `Usage: pss agent [options]

Receive traces over Connect-RPC, gRPC-web and (with --grpc-port) native gRPC,
store them in a sink, and score them (GET /score). Runs until SIGINT or
SIGTERM, then flushes the sink.

Options:
  --port N            Connect/gRPC-web/HTTP port (default ${DEFAULT_AGENT_PORT}; 0 picks one)
  --hostname H        address to listen on (default 127.0.0.1)
  --grpc-port N       also serve native gRPC over HTTP/2 (pypss's GRPCCollector)
  --sink S            memory | file:PATH | redis://HOST:PORT (default memory)
  --redis-key K       Redis key for a redis:// sink (default pypss:traces)
  --max-traces N      capacity of a memory sink (default 1000000)
  --token T           require "Authorization: Bearer T"
  --token-file PATH   the same, with the token read from a file (kept out of ps)
  --tls-cert PATH     PEM certificate chain: serve HTTPS
  --tls-key PATH      PEM private key for --tls-cert
  -h, --help          show this help
`;

interface AgentArgs {
  port: number;
  hostname: string;
  grpcPort?: number;
  sink: string;
  redisKey?: string;
  maxTraces: number;
  token?: string;
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  help: boolean;
}

class AgentUsageError extends Error {}

function parseAgentArgs(args: readonly string[]): AgentArgs {
  const out: AgentArgs = {
    port: DEFAULT_AGENT_PORT,
    hostname: "127.0.0.1",
    sink: "memory",
    maxTraces: 1_000_000,
    help: false,
  };
  const integer = (flag: string, text: string | undefined): number => {
    const value = Number(text);
    if (
      text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(value)
    ) {
      throw new AgentUsageError(
        `${flag} needs a whole number: got ${text ?? "nothing"}`,
      );
    }
    return value;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = (): string => {
      const next = inline ?? args[++i];
      if (next === undefined) {
        throw new AgentUsageError(`${flag} needs a value`);
      }
      return next;
    };
    switch (flag) {
      case "-h":
      case "--help":
        out.help = true;
        break;
      case "--port":
        out.port = integer(flag, value());
        break;
      case "--grpc-port":
        out.grpcPort = integer(flag, value());
        break;
      case "--hostname":
        out.hostname = value();
        break;
      case "--sink":
        out.sink = value();
        break;
      case "--redis-key":
        out.redisKey = value();
        break;
      case "--max-traces":
        out.maxTraces = integer(flag, value());
        break;
      case "--token":
        out.token = value();
        break;
      case "--token-file":
        out.tokenFile = value();
        break;
      case "--tls-cert":
        out.tlsCert = value();
        break;
      case "--tls-key":
        out.tlsKey = value();
        break;
      default:
        throw new AgentUsageError(`unknown option for 'pss agent': ${arg}`);
    }
  }
  if ((out.tlsCert === undefined) !== (out.tlsKey === undefined)) {
    throw new AgentUsageError("--tls-cert and --tls-key go together");
  }
  return out;
}

async function openSink(args: AgentArgs): Promise<Collector> {
  const sink = args.sink;
  if (sink === "memory") {
    return new MemoryCollector({ maxTraces: args.maxTraces });
  }
  if (sink.startsWith("file:")) {
    const path = sink.slice("file:".length);
    if (path === "") throw new AgentUsageError("--sink file: needs a path");
    const { FileFifoCollector } = await import("../collect/fifo.ts");
    return new FileFifoCollector({ path });
  }
  if (sink.startsWith("redis://") || sink.startsWith("rediss://")) {
    const { RedisCollector } = await import("../collect/redis.ts");
    return new RedisCollector({
      url: sink,
      ...(args.redisKey === undefined ? {} : { key: args.redisKey }),
    });
  }
  throw new AgentUsageError(
    `--sink must be memory, file:PATH or redis://HOST:PORT: got ${sink}`,
  );
}

/**
 * Runs `pss agent` with `args` (the arguments after `agent`): serves until
 * SIGINT or SIGTERM, then flushes and closes the sink.
 *
 * @param args For example `["--port", "7411", "--sink", "memory"]`.
 * @param io Where to write messages.
 * @returns 0 after a clean stop, 1 when the agent could not start, 2 for a
 * usage error.
 *
 * @example
 * ```ts ignore
 * import { runAgentCommand } from "./agent.ts";
 * const code = await runAgentCommand(["--port", "0"], io); // until Ctrl-C
 * ```
 */
export async function runAgentCommand(
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  let parsed: AgentArgs;
  try {
    parsed = parseAgentArgs(args);
  } catch (error) {
    await io.stderr(
      `pss agent: ${
        messageOf(error)
      }\nRun 'pss agent --help' for the options.\n`,
    );
    return 2;
  }
  if (parsed.help) {
    await io.stdout(AGENT_USAGE);
    return 0;
  }
  let sink: Collector | undefined;
  try {
    sink = await openSink(parsed);
    const tls = parsed.tlsCert === undefined ? undefined : {
      cert: await io.readTextFile(parsed.tlsCert),
      key: await io.readTextFile(parsed.tlsKey!),
    };
    const token = parsed.token ??
      (parsed.tokenFile === undefined
        ? undefined
        : (await io.readTextFile(parsed.tokenFile)).trim());
    const agent = await serveAgent({
      hostname: parsed.hostname,
      port: parsed.port,
      grpcPort: parsed.grpcPort,
      sink,
      ...(token === undefined ? {} : { authToken: token }),
      ...(tls === undefined ? {} : { tls }),
    });
    const stop = untilSignal();
    await io.stdout(
      `pss agent listening on ${agent.url}${
        agent.grpcTarget === undefined ? "" : ` (gRPC on ${agent.grpcTarget})`
      }, sink ${parsed.sink}\n`,
    );
    const signal = await stop.signal;
    stop.detach();
    await agent.close();
    await sink.close();
    const stats = agent.stats();
    await io.stdout(
      `pss agent stopped on ${signal}: ${stats.accepted} traces stored, ${stats.rejected} rejected\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof AgentUsageError) {
      await io.stderr(`pss agent: ${error.message}\n`);
      await sink?.close();
      return 2;
    }
    await io.stderr(`pss agent: ${messageOf(error)}\n`);
    await sink?.close();
    return 1;
  }
}

/** The first SIGINT or SIGTERM; while waiting, neither ends the process. */
function untilSignal(): { signal: Promise<ExitSignal>; detach: () => void } {
  const detachers: (() => void)[] = [];
  const signal = new Promise<ExitSignal>((resolve) => {
    for (const name of ["SIGINT", "SIGTERM"] as const) {
      detachers.push(
        runtime.process.addSignalListener(name, () => resolve(name)),
      );
    }
  });
  return { signal, detach: () => detachers.forEach((detach) => detach()) };
}
