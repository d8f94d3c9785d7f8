/**
 * The seed's bot (the OpenAI community thread in /work/shared/seeds/), written with the OpenAI
 * Agents SDK as a team would: an `Agent` with the shop's function tools, `run()` per customer
 * message with `previousResponseId`.
 *
 * On every customer message it calls the model at once, chaining from the last committed response
 * (`previousResponseId` = the head) with every unanswered message as input. A message that
 * arrives while a run is going starts a new run in parallel with all unanswered messages; the
 * older run goes on (its tools run) and its output is discarded. Only the latest run's output is
 * delivered, and its last response id becomes the new head.
 */
import OpenAI from 'openai';
import {
  Agent,
  run,
  setDefaultOpenAIClient,
  setOpenAIAPI,
  setTracingDisabled,
  tool,
  type AgentInputItem,
} from '@openai/agents';
import {
  deliver,
  INSTRUCTIONS,
  reportFailure,
  peerEnv,
  peerTools,
  servePeer,
  type Inbound,
} from './peer-shell.js';

const NAME = 'seed-agents';
const env = peerEnv();

setTracingDisabled(true);
setOpenAIAPI('responses');
setDefaultOpenAIClient(new OpenAI({ apiKey: 'bench', baseURL: env.modelUrl, maxRetries: 0 }));

interface Conversation {
  /** The last committed response: every new run chains from it. */
  head: string | undefined;
  unanswered: Inbound[];
  /** Bumped by every message; a run whose number is no longer the latest is discarded. */
  latest: number;
}

type Context = { conversationId: string };

const agent = new Agent<Context>({
  name: 'Shop clerk',
  instructions: INSTRUCTIONS,
  model: env.modelName,
  tools: (await peerTools()).map((shopTool) =>
    tool({
      name: shopTool.name,
      description: shopTool.description,
      parameters: shopTool.parameters as never,
      strict: false,
      execute: (args: unknown, runContext, details) =>
        shopTool.run(args, {
          conversationId: (runContext?.context as Context).conversationId,
          callId: details?.toolCall?.callId ?? 'unknown',
        }),
    }),
  ),
});

const conversations = new Map<string, Conversation>();

await servePeer(NAME, (message) => {
  let conversation = conversations.get(message.conversationId);
  if (!conversation) {
    conversation = { head: undefined, unanswered: [], latest: 0 };
    conversations.set(message.conversationId, conversation);
  }
  conversation.unanswered.push(message);
  void answer(message.conversationId, conversation);
});

async function answer(conversationId: string, conversation: Conversation): Promise<void> {
  const number = ++conversation.latest;
  const covered = [...conversation.unanswered];
  const input: AgentInputItem[] = covered.map((m) => ({ role: 'user', content: m.text }));
  try {
    const result = await run(agent, input, {
      previousResponseId: conversation.head,
      context: { conversationId },
      maxTurns: 10,
    });
    // A newer message started a newer run: this output is discarded.
    if (number !== conversation.latest) return;
    conversation.head = result.lastResponseId;
    conversation.unanswered = conversation.unanswered.filter((m) => !covered.includes(m));
    await deliver({
      conversationId,
      text: typeof result.finalOutput === 'string' ? result.finalOutput : '',
      covers: covered.map((m) => m.id),
    });
  } catch (error) {
    await reportFailure(
      NAME,
      conversationId,
      covered.map((m) => m.id),
      error,
    );
  }
}
