import type { Context } from 'hono';
import type { SSEStreamingApi } from 'hono/streaming';
import { streamSSE } from 'hono/streaming';
import type { GraftEvent } from '../core/events.js';
import type { ConversationKey, Delivery, EventStore } from '../core/ports.js';
import type { HubMessage } from './event-hub.js';

export interface EventStreamOptions {
  store: EventStore;
  key: ConversationKey;
  /** Send the events after this seq first (0: the whole log), then the live ones. */
  afterSeq: number;
  heartbeatMs: number;
}

/**
 * A conversation's events as server-sent events: `event: <type>`, `id: <seq>`, `data: <event JSON>`,
 * first the log after `afterSeq`, then live, in seq order without gaps (a gap is filled from the
 * store). Replies are also sent as `event: reply` with the delivery (no id: they are not log
 * positions); a client may see a reply twice when its delivery is retried, and de-duplicates by
 * `deliveryId`.
 */
export function eventStream(
  c: Context,
  options: EventStreamOptions,
  subscribe: (listener: (m: HubMessage) => void) => () => void,
): Response {
  return streamSSE(c, async (stream) => {
    const { store, key, heartbeatMs } = options;
    let lastSeq = options.afterSeq;
    let chain: Promise<void> = Promise.resolve();
    const enqueue = (work: () => Promise<void>) => {
      chain = chain.then(work).catch(() => stream.abort());
    };
    const writeEvent = async (event: GraftEvent) => {
      if (event.seq !== lastSeq + 1) return;
      await stream.writeSSE({ event: event.type, id: String(event.seq), data: JSON.stringify(event) });
      lastSeq = event.seq;
    };
    const catchUp = async () => {
      for (const event of await store.read(key, lastSeq)) await writeEvent(event);
    };
    const onMessage = (message: HubMessage) => {
      if (message.kind === 'reply') return enqueue(() => writeReply(stream, message.delivery));
      const seq = message.kind === 'event' ? message.event.seq : message.seq;
      if (seq <= lastSeq) return;
      if (message.kind === 'event' && seq === lastSeq + 1) return enqueue(() => writeEvent(message.event));
      enqueue(async () => (seq > lastSeq ? catchUp() : undefined));
    };
    const unsubscribe = subscribe(onMessage);
    const heartbeat = setInterval(
      () => enqueue(async () => void (await stream.write(': ping\n\n'))),
      heartbeatMs,
    );
    const closed = new Promise<void>((resolve) => stream.onAbort(resolve));
    enqueue(catchUp);
    await closed;
    clearInterval(heartbeat);
    unsubscribe();
  });
}

async function writeReply(stream: SSEStreamingApi, delivery: Delivery): Promise<void> {
  const { deliveryId, conversationId, replyId, text, covers, kind } = delivery;
  await stream.writeSSE({
    event: 'reply',
    data: JSON.stringify({ deliveryId, conversationId, replyId, text, covers, kind }),
  });
}

/**
 * A tenant's activity as server-sent events, live only (no replay): `event: conversation` with
 * `{conversationId, seq, type}` each time a conversation's log grows to `seq` (`type`, the event
 * at `seq`, is null when the growth was heard from the store's notice first), and `event: reply`
 * as in a conversation's stream. A
 * client that needs the state reads `GET /v1/conversations/{id}`; this says when.
 */
export function tenantStream(
  c: Context,
  heartbeatMs: number,
  subscribe: (listener: (conversationId: string, m: HubMessage) => void) => () => void,
): Response {
  return streamSSE(c, async (stream) => {
    let chain: Promise<void> = Promise.resolve();
    const enqueue = (work: () => Promise<void>) => {
      chain = chain.then(work).catch(() => stream.abort());
    };
    // The seq each conversation was last announced at: an append is heard both as its events and
    // as the store's notice of it, in either order; each growth is announced once.
    const announced = new Map<string, number>();
    const unsubscribe = subscribe((conversationId, message) => {
      if (message.kind === 'reply') return enqueue(() => writeReply(stream, message.delivery));
      const seq = message.kind === 'event' ? message.event.seq : message.seq;
      if (seq <= (announced.get(conversationId) ?? 0)) return;
      announced.set(conversationId, seq);
      const type = message.kind === 'event' ? message.event.type : null;
      enqueue(() =>
        stream.writeSSE({ event: 'conversation', data: JSON.stringify({ conversationId, seq, type }) }),
      );
    });
    const heartbeat = setInterval(
      () => enqueue(async () => void (await stream.write(': ping\n\n'))),
      heartbeatMs,
    );
    // A comment at once, so that a client knows the stream is open before anything happens.
    enqueue(async () => void (await stream.write(': open\n\n')));
    await new Promise<void>((resolve) => stream.onAbort(resolve));
    clearInterval(heartbeat);
    unsubscribe();
  });
}
