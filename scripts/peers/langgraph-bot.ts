/**
 * A LangGraph JS bot (`@langchain/langgraph` 1.7.3): the prebuilt ReAct agent with the shop's
 * tools, `ChatOpenAI` from `@langchain/openai` 1.4.7 on the Responses API (`useResponsesApi`)
 * pointed at the benchmark's emulator, and a `MemorySaver` checkpointer with one thread per
 * conversation.
 *
 * LangGraph's double-texting strategies (`reject`, `enqueue`, `interrupt`, `rollback`) are a
 * feature of the LangGraph Agent Server (LangGraph Platform, `langgraph-api`): the server keeps
 * the run queue per thread and cancels or deletes runs; the SDK (`@langchain/langgraph-sdk`) only
 * sends `multitask_strategy` to it. The open-source library has no run queue, so this bot does
 * what a LangGraph app without the server does: one `invoke` per customer message, at once, on
 * the conversation's thread, each posting its own reply.
 */
import { tool } from '@langchain/core/tools';
import { MemorySaver } from '@langchain/langgraph';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { ChatOpenAI } from '@langchain/openai';
import { deliver, INSTRUCTIONS, reportFailure, peerEnv, peerTools, servePeer } from './peer-shell.js';

const NAME = 'langgraph';
const env = peerEnv();

const tools = (await peerTools()).map((shopTool) =>
  tool(
    (args: unknown, config: { toolCall?: { id?: string }; configurable?: { thread_id?: string } }) =>
      shopTool.run(args, {
        conversationId: config.configurable?.thread_id ?? 'unknown',
        callId: config.toolCall?.id ?? 'unknown',
      }),
    { name: shopTool.name, description: shopTool.description, schema: shopTool.parameters as never },
  ),
);

const agent = createReactAgent({
  llm: new ChatOpenAI({
    model: env.modelName,
    useResponsesApi: true,
    apiKey: 'bench',
    maxRetries: 0,
    configuration: { baseURL: env.modelUrl },
  }),
  tools,
  prompt: INSTRUCTIONS,
  checkpointSaver: new MemorySaver(),
});

await servePeer(NAME, (message) => {
  void (async () => {
    try {
      const result = await agent.invoke(
        { messages: [{ role: 'user', content: message.text }] },
        { configurable: { thread_id: message.conversationId }, recursionLimit: 20 },
      );
      const last = result.messages[result.messages.length - 1];
      await deliver({
        conversationId: message.conversationId,
        text: last ? textOf(last.content) : '',
        covers: [message.id],
      });
    } catch (error) {
      await reportFailure(NAME, message.conversationId, [message.id], error);
    }
  })();
});

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((part: unknown) => (part && typeof part === 'object' && 'text' in part ? String(part.text) : ''))
      .join('');
  return '';
}
