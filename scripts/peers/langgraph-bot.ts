/**
 * LangGraph without its server (the "LangGraph (no server)" row): the shop agent of
 * ./langgraph-agent.ts (`@langchain/langgraph` 1.7.3 prebuilt ReAct agent, `ChatOpenAI` on the
 * Responses API) with a `MemorySaver` checkpointer, one thread per conversation, run in-process
 * as a LangGraph app without the Agent Server is: one `invoke` per customer message, at once,
 * on the conversation's thread, each posting its own reply. The double-texting strategies
 * (`multitask_strategy`) belong to the Agent Server's run queue: see ./langgraph-server-bot.ts.
 */
import { MemorySaver } from '@langchain/langgraph';
import { shopAgent, textOf } from './langgraph-agent.js';
import { deliver, reportFailure, servePeer } from './peer-shell.js';

const NAME = 'langgraph';
const agent = await shopAgent(new MemorySaver());

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
