/**
 * The LangGraph shop agent every LangGraph row runs: `@langchain/langgraph` 1.7.3's prebuilt
 * ReAct agent (`createReactAgent`) with the shop's five tools and `ChatOpenAI` from
 * `@langchain/openai` 1.4.7 on the Responses API (`useResponsesApi`), pointed at the benchmark's
 * counting proxy (`PEERS_MODEL_URL`). The plain bot (scripts/peers/langgraph-bot.ts) gives it a
 * `MemorySaver`; the LangGraph Agent Server (scripts/peers/langgraph-server-bot.ts) loads it from
 * scripts/peers/langgraph-graph.ts and gives it its own checkpointer.
 *
 * The shop keys orders by conversation: the tools take the conversation id from the run's
 * `configurable.conversation_id` (the server's thread ids are its own UUIDs), else `thread_id`.
 */
import type { BaseCheckpointSaver } from '@langchain/langgraph';
import { tool } from '@langchain/core/tools';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { ChatOpenAI } from '@langchain/openai';
import { INSTRUCTIONS, peerEnv, peerTools } from './peer-shell.js';

interface ToolConfig {
  toolCall?: { id?: string };
  configurable?: { thread_id?: string; conversation_id?: string };
}

export async function shopAgent(checkpointSaver?: BaseCheckpointSaver) {
  const env = peerEnv();
  const tools = (await peerTools()).map((shopTool) =>
    tool(
      (args: unknown, config: ToolConfig) =>
        shopTool.run(args, {
          conversationId: config.configurable?.conversation_id ?? config.configurable?.thread_id ?? 'unknown',
          callId: config.toolCall?.id ?? 'unknown',
        }),
      { name: shopTool.name, description: shopTool.description, schema: shopTool.parameters as never },
    ),
  );
  return createReactAgent({
    llm: new ChatOpenAI({
      model: env.modelName,
      useResponsesApi: true,
      apiKey: 'bench',
      maxRetries: 0,
      configuration: { baseURL: env.modelUrl },
    }),
    tools,
    prompt: INSTRUCTIONS,
    ...(checkpointSaver ? { checkpointSaver } : {}),
  });
}

/** The text of a message's content (a string, or the text parts of a list). */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((part: unknown) => (part && typeof part === 'object' && 'text' in part ? String(part.text) : ''))
      .join('');
  return '';
}
