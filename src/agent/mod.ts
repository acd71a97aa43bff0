/**
 * The pss agent: one place that receives, stores and scores the traces of
 * many instrumented services. {@linkcode serveAgent} listens on the running
 * runtime; {@linkcode createAgentHandler} is the same thing as a fetch
 * handler for a server of your own. Clients ship with `ConnectCollector`
 * from `@pss/pss/connect`, or with pypss's `GRPCCollector` over native gRPC.
 *
 * ```ts ignore
 * import { RedisCollector } from "@pss/pss/redis";
 * import { serveAgent } from "@pss/pss/agent";
 * await using agent = await serveAgent({ port: 7411, grpcPort: 50051, sink: new RedisCollector() });
 * ```
 *
 * @module
 */

export { createAgentHandler } from "./handler.ts";
export type {
  AgentHandler,
  AgentHandlerOptions,
  AgentStats,
} from "./handler.ts";
export { DEFAULT_AGENT_PORT, serveAgent } from "./serve.ts";
export type { RunningAgent, ServeAgentOptions } from "./serve.ts";
