import type { Adapter, Logger as ChatLogger, Message, StateAdapter, Thread } from 'chat';
import { Chat } from 'chat';
import { createMemoryState } from '@chat-adapter/state-memory';
import { RetryableError } from '../core/errors.js';
import type { GraftEvent } from '../core/events.js';
import { parseConversationId, parseTenantId } from '../core/ids.js';
import type { Delivery, DeliveryOutcome, EventStore } from '../core/ports.js';
import type { InboundMessage } from '../runtime/graft.js';
import type { Logger } from '../runtime/logger.js';
import { TypingKeeper } from './typing.js';

/** Where a channel message came from, kept in graft's message metadata under `channel`. */
export interface ChannelOrigin {
  /** The adapter's name (`telegram`, `whatsapp`, `slack`, …). */
  adapter: string;
  /** Chat SDK's thread id (`telegram:7`, `slack:C123:1712345.678`): replies are posted there. */
  threadId: string;
  channelId: string;
  /** The platform's message id (also the graft message id). */
  messageId: string;
  author: { userId: string; userName: string; fullName: string };
  /** Attachments, described (their content is not fetched). */
  attachments?: { type: string; name?: string; mimeType?: string }[];
}

export interface GraftChannelsOptions {
  /** Chat SDK adapters by name; each is mounted as a webhook (`handle(name, request)`). */
  adapters: Record<string, Adapter>;
  /** The tenant whose graft answers every channel conversation. */
  tenantId: string;
  /** Hands a customer message to graft (in the service: that tenant's `graft.receive`). */
  receive: (message: InboundMessage) => Promise<{ status: 'accepted' | 'duplicate' }>;
  /** graft's store: delivery reads a conversation's messages to find the thread to post to. */
  store: EventStore;
  /** Chat SDK's state (subscriptions of group threads); in memory by default. */
  state?: StateAdapter;
  /** The bot's name, for Chat SDK's mention detection (default `graft`). */
  userName?: string;
  /**
   * The typing indicator: refreshed every `refreshMs` (default 20 s, 4 s on Telegram, whose
   * indicator lasts 5 s) while a customer message waits for its reply, for at most `maxMs`
   * (default 10 minutes). `false`: none.
   */
  typing?: { refreshMs?: number; maxMs?: number } | false;
  /** How long a post to the platform may take before it counts as failed and is retried (15 s). */
  postTimeoutMs?: number;
  logger?: Logger;
  now?: () => number;
}

/** Chat SDK channels in front of graft: webhooks in, replies out, typing held through the burst. */
export interface GraftChannels {
  readonly chat: Chat;
  /** The mounted adapters' names. */
  readonly names: string[];
  /**
   * Answers a platform's webhook (POST, and the GET verification some platforms need). The answer
   * waits until every message in it is durably recorded by graft: a store failure answers 503, so
   * the platform delivers the update again (graft de-duplicates it by the platform's message id).
   */
  handle(name: string, request: Request): Promise<Response>;
  /**
   * Posts a committed reply to the thread its conversation came from; null when the conversation
   * did not come through a channel of this tenant (deliver it some other way). A failed post
   * throws, and graft retries it within its delivery bounds.
   */
  deliver(delivery: Delivery): Promise<DeliveryOutcome | null>;
  /** Stops the typing indicators and shuts Chat SDK down. */
  close(): Promise<void>;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

/** Chat SDK's own logs, at warn and above, go to graft's logger (none: silent). */
export function chatLogger(logger: Logger | undefined, prefix = 'chat'): ChatLogger {
  const fields = (args: unknown[]) => ({ event: 'channel.log', source: prefix, details: args });
  return {
    child: (name) => chatLogger(logger, `${prefix}:${name}`),
    debug: () => undefined,
    info: () => undefined,
    warn: (message, ...args) => logger?.warn(fields(args), message),
    error: (message, ...args) => logger?.error(fields(args), message),
  };
}

/** What graft records of a platform message: its text, and its attachments described. */
export function messageText(message: Message): string {
  const notes = message.attachments.map(
    (a) => `[${a.type}${a.name ? ` ${a.name}` : ''}${a.mimeType ? ` (${a.mimeType})` : ''}]`,
  );
  return [message.text.trim(), ...notes].filter((part) => part.length > 0).join('\n');
}

/** The channel origin recorded with a message, or null when the metadata holds none. */
export function originOf(metadata: unknown): ChannelOrigin | null {
  if (typeof metadata !== 'object' || metadata === null) return null;
  const origin = (metadata as { channel?: unknown }).channel;
  if (typeof origin !== 'object' || origin === null) return null;
  const { adapter, threadId } = origin as Partial<ChannelOrigin>;
  return typeof adapter === 'string' && typeof threadId === 'string' ? (origin as ChannelOrigin) : null;
}

/**
 * The thread a reply goes to: that of the latest message it covers that came through a channel,
 * else that of the conversation's latest channel message (a follow-up or a person's reply).
 */
export function replyThread(events: readonly GraftEvent[], covers: readonly string[]): ChannelOrigin | null {
  let latest: ChannelOrigin | null = null;
  let covered: ChannelOrigin | null = null;
  for (const event of events) {
    if (event.type !== 'message.received') continue;
    const origin = originOf(event.metadata);
    if (!origin) continue;
    latest = origin;
    if (covers.includes(event.messageId)) covered = origin;
  }
  return covered ?? latest;
}

/** Chat SDK's lock key of a thread: graft's conversation id (a thread, or a whole channel). */
export function conversationOf(adapter: Adapter, threadId: string): string {
  return (adapter.lockScope ?? 'thread') === 'channel' ? adapter.channelIdFromThreadId(threadId) : threadId;
}

/**
 * Keys under which adapters remember a delivery they have seen (Telegram's `update_id`, Slack's
 * `event_id` of a retried event), to drop a redelivery before it reaches any handler.
 */
const PLATFORM_SEEN_KEYS = [/:webhook-update:/, /^slack:event-delivered:/];

/**
 * Chat SDK's state, minus the adapters' own redelivery checks: those would drop a platform's
 * redelivery of a message that graft failed to record (the 503 asked for it). graft
 * de-duplicates instead, durably, by the platform's message id.
 */
export function withoutRedeliveryChecks(state: StateAdapter): StateAdapter {
  const seen = (key: string) => PLATFORM_SEEN_KEYS.some((pattern) => pattern.test(key));
  return new Proxy(state, {
    get(target, property, receiver) {
      if (property === 'setIfNotExists') {
        return (key: string, ...rest: unknown[]) =>
          seen(key)
            ? Promise.resolve(true)
            : (target.setIfNotExists as (k: string, ...r: unknown[]) => Promise<boolean>)(key, ...rest);
      }
      if (property === 'set') {
        return (key: string, ...rest: unknown[]) =>
          seen(key)
            ? Promise.resolve()
            : (target.set as (k: string, ...r: unknown[]) => Promise<void>)(key, ...rest);
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** `work`, or a retryable error once `ms` pass (the post may still land: delivery is at least once). */
async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RetryableError(`${what} took more than ${ms} ms`, null, 'channel_timeout')),
      ms,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

const isRetryable = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { kind?: unknown }).kind === 'retryable';

/**
 * Puts Chat SDK's adapters in front of graft. Every platform message goes to graft at once (Chat
 * SDK's `concurrent` strategy: graft decides what a burst becomes), keyed by the platform's
 * message id; one graft conversation per thread, or per channel where Chat SDK locks per channel
 * (Telegram, WhatsApp). The thread is kept in the message's metadata, so a reply committed later,
 * after a restart or on another instance, is posted to the same thread.
 *
 * @example
 * const channels = createGraftChannels({
 *   adapters: { telegram: createTelegramAdapter() },
 *   tenantId: 'shop',
 *   store,
 *   receive: (message) => graft.receive(message),
 * });
 * const graft = createGraft({ store, model, tools, tenantId: 'shop', deliver: async (d) => (await channels.deliver(d)) ?? 'no-target' });
 * // In your HTTP framework: POST /channels/telegram → channels.handle('telegram', request)
 */
export function createGraftChannels(options: GraftChannelsOptions): GraftChannels {
  const { tenantId, store, logger } = options;
  const chat = new Chat({
    userName: options.userName ?? 'graft',
    adapters: options.adapters,
    state: withoutRedeliveryChecks(options.state ?? createMemoryState()),
    concurrency: 'concurrent',
    logger: chatLogger(logger),
  });
  const names = Object.keys(options.adapters);
  const tenant = parseTenantId(tenantId);
  const readLog = (conversationId: string) =>
    store.read({ tenantId: tenant, conversationId: parseConversationId(conversationId) }, 0);
  const typing =
    options.typing === false
      ? null
      : new TypingKeeper({
          readLog,
          startTyping: (adapter, threadId) => chat.getAdapter(adapter).startTyping(threadId),
          ...(options.typing?.refreshMs ? { refreshMs: options.typing.refreshMs } : {}),
          ...(options.typing?.maxMs ? { maxMs: options.typing.maxMs } : {}),
          ...(options.now ? { now: options.now } : {}),
          onError: (error, adapter) =>
            logger?.debug({ event: 'channel.typing-failed', adapter, err: error }, 'typing indicator failed'),
        });

  const receive = async (thread: Thread, message: Message) => {
    const adapter = thread.adapter;
    const conversationId = conversationOf(adapter, thread.id);
    const origin: ChannelOrigin = {
      adapter: adapter.name,
      threadId: thread.id,
      channelId: thread.channelId,
      messageId: message.id,
      author: {
        userId: message.author.userId,
        userName: message.author.userName,
        fullName: message.author.fullName,
      },
      ...(message.attachments.length > 0
        ? {
            attachments: message.attachments.map((a) => ({
              type: a.type,
              ...(a.name ? { name: a.name } : {}),
              ...(a.mimeType ? { mimeType: a.mimeType } : {}),
            })),
          }
        : {}),
    };
    const text = messageText(message);
    if (text.length === 0) return; // nothing to answer (a sticker, a location): see docs/channels.md
    const { status } = await options.receive({
      conversationId,
      messageId: message.id,
      text,
      metadata: { channel: origin },
    });
    logger?.debug(
      { event: 'channel.message', adapter: adapter.name, conversationId, status },
      'channel message',
    );
    if (status === 'accepted') typing?.start(conversationId, adapter.name, thread.id);
  };
  const conversationExists = async (thread: Thread) =>
    (await readLog(conversationOf(thread.adapter, thread.id))).length > 0;

  chat.onDirectMessage((thread, message) => receive(thread, message));
  chat.onSubscribedMessage((thread, message) => receive(thread, message));
  chat.onNewMention(async (thread, message) => {
    await receive(thread, message);
    await thread.subscribe();
  });
  // A group thread the bot was mentioned in on another instance (Chat SDK's subscriptions live in
  // its state, per instance by default): graft's log says whether it is a conversation already.
  chat.onNewMessage(/[\s\S]*/, async (thread, message) => {
    if (await conversationExists(thread)) await receive(thread, message);
  });

  return {
    chat,
    names,
    async handle(name, request) {
      if (!names.includes(name)) {
        return json(404, {
          error: {
            code: 'channel_not_found',
            message: `no channel '${name}' (mounted: ${names.join(', ') || 'none'})`,
          },
        });
      }
      const tasks: Promise<unknown>[] = [];
      const webhook = chat.webhooks[name]!;
      const response = await webhook(request, {
        // graft de-duplicates durably, by the platform's message id: Chat SDK's own de-duplication
        // would skip a redelivery of a message graft failed to record.
        deduplicate: false,
        propagateHandlerErrors: true,
        waitUntil: (task) => void tasks.push(task),
      });
      const failures = (await Promise.allSettled(tasks)).flatMap((r) =>
        r.status === 'rejected' ? [r.reason as unknown] : [],
      );
      const retry = failures.find(isRetryable);
      if (retry !== undefined) {
        logger?.warn(
          { event: 'channel.unavailable', adapter: name, err: retry },
          'channel message not recorded',
        );
        return json(
          503,
          { error: { code: 'unavailable', message: `not recorded, send it again: ${errorMessage(retry)}` } },
          { 'retry-after': '1' },
        );
      }
      for (const failure of failures) {
        // Not retryable (a message graft refuses, such as one too long): redelivering would not help.
        logger?.warn({ event: 'channel.rejected', adapter: name, err: failure }, 'channel message refused');
      }
      return response;
    },
    async deliver(delivery) {
      if (delivery.tenantId !== tenantId) return null;
      const origin = replyThread(await readLog(delivery.conversationId), delivery.covers);
      if (!origin) return null;
      if (!names.includes(origin.adapter)) {
        throw new RetryableError(
          `the reply goes to channel '${origin.adapter}', which is not mounted here`,
          null,
          'channel_not_mounted',
        );
      }
      await chat.initialize();
      await withTimeout(
        chat.thread(origin.threadId).post(delivery.text),
        options.postTimeoutMs ?? 15_000,
        `posting the reply to ${origin.adapter}`,
      );
      await typing?.delivered(delivery.conversationId, delivery.covers);
      return 'delivered';
    },
    async close() {
      typing?.close();
      await chat.shutdown();
    },
  };
}
