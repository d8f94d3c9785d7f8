/**
 * A Chat SDK bot (`chat` 4.41.0) with one of its concurrency strategies (`--strategy queue`,
 * `burst` or `concurrent`), generating with the AI SDK (`ai` 6 and `@ai-sdk/openai`'s Responses
 * provider, `openai.responses(…)`, pointed at the benchmark's emulator).
 *
 * Messages enter through a minimal adapter of our own (`BenchAdapter`: direct messages, one
 * thread per conversation) that calls `chat.processMessage` as every Chat SDK adapter does, so
 * Chat SDK's own locking, queueing, debouncing and de-duplication decide when the handler runs
 * and with which messages (`context.skipped`). The handler is the one a team writes: read the
 * conversation's history from the thread's state, `generateText` with the shop's tools, save the
 * history with the new messages, the tool calls and their results, and post the reply.
 *
 * The history is kept whole in the thread's state and sent in full (`store: false`): the Chat
 * SDK docs' own pattern (`toAiMessages` of the platform's text history) would drop the tool
 * calls, and the emulator does not resolve the `item_reference`s the provider sends for stored
 * items, so keeping the messages is both the careful team's choice and the one that runs here.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { parseArgs } from 'node:util';
import { createOpenAI } from '@ai-sdk/openai';
import { createMemoryState } from '@chat-adapter/state-memory';
import { generateText, jsonSchema, stepCountIs, tool, type ModelMessage, type ToolSet } from 'ai';
import {
  Chat,
  Message,
  parseMarkdown,
  type Adapter,
  type AdapterPostableMessage,
  type ChatInstance,
  type FetchResult,
  type RawMessage,
  type ThreadInfo,
} from 'chat';
import {
  deliver,
  INSTRUCTIONS,
  reportFailure,
  peerEnv,
  peerTools,
  servePeer,
  type Inbound,
} from './peer-shell.js';

const { values } = parseArgs({ options: { strategy: { type: 'string', default: 'queue' } } });
const strategy = values.strategy as 'queue' | 'burst' | 'concurrent';
if (!['queue', 'burst', 'concurrent'].includes(strategy)) throw new Error(`unknown strategy ${strategy}`);
const NAME = `chat-sdk-${strategy}`;
const env = peerEnv();
const shopTools = await peerTools();
const openai = createOpenAI({ apiKey: 'bench', baseURL: env.modelUrl });

/** Which customer messages the reply being posted answers (set around `thread.post`). */
const covering = new AsyncLocalStorage<string[]>();

/** A minimal Chat SDK adapter: every conversation is a direct-message thread `bench:<id>`. */
class BenchAdapter implements Adapter<{ conversationId: string }, Inbound> {
  readonly name = 'bench';
  readonly userName = 'clerk';
  readonly botUserId = 'clerk';
  private chat: ChatInstance | null = null;
  private posted = 0;

  initialize(chat: ChatInstance): Promise<void> {
    this.chat = chat;
    return Promise.resolve();
  }

  /** The platform's webhook: a customer message, handed to Chat SDK as every adapter does. */
  async handleWebhook(request: Request): Promise<Response> {
    const message = (await request.json()) as Inbound;
    const threadId = this.encodeThreadId({ conversationId: message.conversationId });
    void this.chat!.processMessage(this, threadId, () => Promise.resolve(this.parseMessage(message)));
    return new Response('ok');
  }

  parseMessage(raw: Inbound): Message<Inbound> {
    return new Message<Inbound>({
      id: raw.id,
      threadId: this.encodeThreadId({ conversationId: raw.conversationId }),
      text: raw.text,
      formatted: parseMarkdown(raw.text),
      raw,
      author: {
        userId: `customer-${raw.conversationId}`,
        userName: 'customer',
        fullName: 'Customer',
        isBot: false,
        isMe: false,
      },
      metadata: { dateSent: new Date(), edited: false },
      attachments: [],
    });
  }

  async postMessage(threadId: string, message: AdapterPostableMessage): Promise<RawMessage<Inbound>> {
    const { conversationId } = this.decodeThreadId(threadId);
    const text = postedText(message);
    await deliver({ conversationId, text, covers: covering.getStore() ?? [] });
    const id = `reply-${++this.posted}`;
    return { id, threadId, raw: { conversationId, id, text } };
  }

  encodeThreadId(data: { conversationId: string }): string {
    return `bench:${data.conversationId}`;
  }
  decodeThreadId(threadId: string): { conversationId: string } {
    return { conversationId: threadId.slice('bench:'.length) };
  }
  channelIdFromThreadId(threadId: string): string {
    return threadId;
  }
  isDM(): boolean {
    return true;
  }
  fetchThread(threadId: string): Promise<ThreadInfo> {
    return Promise.resolve({ id: threadId, channelId: threadId, isDM: true, metadata: {} });
  }
  fetchMessages(): Promise<FetchResult<Inbound>> {
    return Promise.resolve({ messages: [] });
  }
  renderFormatted(): string {
    return '';
  }
  startTyping(): Promise<void> {
    return Promise.resolve();
  }
  editMessage(
    threadId: string,
    messageId: string,
    message: AdapterPostableMessage,
  ): Promise<RawMessage<Inbound>> {
    const { conversationId } = this.decodeThreadId(threadId);
    return Promise.resolve({
      id: messageId,
      threadId,
      raw: { conversationId, id: messageId, text: postedText(message) },
    });
  }
  deleteMessage(): Promise<void> {
    return Promise.resolve();
  }
  addReaction(): Promise<void> {
    return Promise.resolve();
  }
  removeReaction(): Promise<void> {
    return Promise.resolve();
  }
}

function postedText(message: AdapterPostableMessage): string {
  if (typeof message === 'string') return message;
  if ('markdown' in message && typeof message.markdown === 'string') return message.markdown;
  if ('raw' in message && typeof message.raw === 'string') return message.raw;
  return JSON.stringify(message);
}

/** The shop's tools for one conversation, as AI SDK tools. */
function toolsFor(conversationId: string): ToolSet {
  return Object.fromEntries(
    shopTools.map((shopTool) => [
      shopTool.name,
      tool({
        description: shopTool.description,
        inputSchema: jsonSchema(shopTool.parameters as never),
        execute: (args: unknown, { toolCallId }) =>
          shopTool.run(args, { conversationId, callId: toolCallId }),
      }),
    ]),
  );
}

type State = { history: ModelMessage[] };

const adapter = new BenchAdapter();
const bot = new Chat<{ bench: BenchAdapter }, State>({
  userName: 'clerk',
  adapters: { bench: adapter },
  state: createMemoryState(),
  concurrency: strategy === 'burst' ? { strategy: 'burst', debounceMs: 1500 } : strategy,
  logger: 'silent',
});

bot.onDirectMessage(async (thread, message, _channel, context) => {
  const turn = [...(context?.skipped ?? []), message];
  try {
    const history = (await thread.state)?.history ?? [];
    const prompt: ModelMessage[] = turn.map((m) => ({ role: 'user', content: m.text }));
    const conversationId = adapter.decodeThreadId(thread.id).conversationId;
    const result = await generateText({
      model: openai.responses(env.modelName),
      system: INSTRUCTIONS,
      messages: [...history, ...prompt],
      tools: toolsFor(conversationId),
      stopWhen: stepCountIs(10),
      maxRetries: 0,
      providerOptions: { openai: { store: false } },
    });
    await thread.setState({ history: [...history, ...prompt, ...result.response.messages] });
    await covering.run(
      turn.map((m) => m.id),
      () => thread.post(result.text),
    );
  } catch (error) {
    await reportFailure(
      NAME,
      adapter.decodeThreadId(thread.id).conversationId,
      turn.map((m) => m.id),
      error,
    );
  }
});

await bot.initialize();
await servePeer(NAME, (message) => {
  const request = new Request('http://bench.local/webhook', {
    method: 'POST',
    body: JSON.stringify(message),
  });
  void bot.webhooks.bench(request);
});
