import { pathToFileURL } from 'node:url';
import { coreConfig } from '../../src/core/config.js';
import type { FunctionToolSpec } from '../../src/core/items.js';
import { toolSpec, type ToolDefinition } from '../../src/tools/define-tool.js';
import { listenJson, postJson } from './http.js';

/**
 * What every peer bot shares: its environment (set by the harness), the demo shop's tools as
 * JSON schemas with one way to run them, and a tiny HTTP face — `POST /messages` in, each reply
 * POSTed to the harness — so that the harness drives every system alike.
 */

/** One customer message, as the harness sends it to every system. */
export interface Inbound {
  conversationId: string;
  id: string;
  text: string;
}

/** One delivered reply: `covers` are the customer message ids the bot answered with it. */
export interface Outbound {
  conversationId: string;
  text: string;
  covers: string[];
}

/** graft's defaults (`graft serve` sends these unless told otherwise). */
const DEFAULTS = coreConfig({ instanceId: 'bench' });

export interface PeerEnv {
  /** The Responses API base URL (the harness's counting proxy, …/v1). */
  modelUrl: string;
  /** Where replies go (the harness). */
  replyUrl: string;
  modelName: string;
}

export function peerEnv(): PeerEnv {
  const need = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set (the peers are started by scripts/bench-peers.ts)`);
    return value;
  };
  return {
    modelUrl: need('PEERS_MODEL_URL'),
    replyUrl: need('PEERS_REPLY_URL'),
    modelName: process.env.PEERS_MODEL_NAME ?? DEFAULTS.model,
  };
}

/** graft's default instructions: every system sends the same text (it counts in the tokens). */
export const INSTRUCTIONS = DEFAULTS.instructions;

/** A shop tool as a peer framework needs it: name, description, JSON schema, and a run function. */
export interface PeerTool {
  name: string;
  description: string;
  parameters: FunctionToolSpec['parameters'];
  /** Validates the arguments with the demo's zod schema and runs the tool; a failure is `{ "error": … }`. */
  run(args: unknown, call: { conversationId: string; callId: string }): Promise<string>;
}

/**
 * The demo shop's five tools over the shared shop, as `PeerTool`s: the module the harness wrote
 * (scripts/peers/tools-module.ts), the one `graft serve --tools` loads too.
 */
export async function peerTools(): Promise<PeerTool[]> {
  const path = process.env.PEERS_TOOLS_MODULE;
  if (!path)
    throw new Error('PEERS_TOOLS_MODULE is not set (the peers are started by scripts/bench-peers.ts)');
  const module = (await import(pathToFileURL(path).href)) as { default: () => ToolDefinition<unknown>[] };
  return module.default().map((tool) => {
    const spec = toolSpec(tool);
    return {
      name: tool.name,
      description: tool.description,
      parameters: spec.parameters,
      run: async (args, call) => {
        const parsed = tool.parameters.safeParse(typeof args === 'string' ? safeJson(args) : args);
        if (!parsed.success) return JSON.stringify({ error: `Invalid arguments: ${parsed.error.message}` });
        try {
          // Without graft there is no scoped key: the demo tools use the model's call id.
          const result: unknown = await tool.run(parsed.data, {
            tenantId: 'bench',
            conversationId: call.conversationId,
            turn: 0,
            messageIds: [],
            attemptId: '',
            toolCallId: call.callId,
            effectId: null,
            idempotencyKey: null,
            signal: new AbortController().signal,
          });
          return JSON.stringify(result);
        } catch (error) {
          return JSON.stringify({ error: error instanceof Error ? error.message : String(error) });
        }
      },
    };
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** POSTs a reply to the harness. */
export async function deliver(reply: Outbound): Promise<void> {
  await postJson(peerEnv().replyUrl, reply);
}

/**
 * Serves `POST /messages` (answered 202 at once; `receive` runs on) and prints `PEER_LISTENING
 * <url>` for the harness, once the bot is ready.
 */
export async function servePeer(name: string, receive: (message: Inbound) => void): Promise<void> {
  const server = await listenJson((path, body) => {
    if (path !== '/messages') return [404, { error: 'not found' }];
    receive(body as Inbound);
    return [202, { status: 'accepted' }];
  });
  process.on('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
  console.log(`PEER_LISTENING ${server.url} ${name}`);
}

/**
 * A run that failed: logged, and reported to the harness with the messages it was answering, so
 * that the harness stops waiting for their reply (they stay unanswered in the figures).
 */
export async function reportFailure(
  name: string,
  conversationId: string,
  covers: string[],
  error: unknown,
): Promise<void> {
  console.error(`[${name}] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await postJson(peerEnv().replyUrl, { conversationId, covers, text: '', failed: true }).catch(
    () => undefined,
  );
}
