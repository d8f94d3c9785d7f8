import type { Invocation, Order } from '../../src/demo/shop/shop.js';
import { matchesDesired } from '../../src/sim/metrics.js';
import type { CallRecord, CountingProxy } from './counting-proxy.js';
import { sleep } from './http.js';
import type { SharedShop } from './shop-server.js';
import type { RunningSystem, SystemSpec } from './systems.js';
import type { ConversationPlan } from './workload.js';

/**
 * One batch: one system, one round's conversations, all at once, on the harness's clock
 * (`performance.now()`). Each conversation sends its bursts; after a burst it waits for the reply
 * that covers the burst's last message (or `replyTimeoutMs`), pauses `thinkMs`, then sends the
 * next burst. When every conversation is done, the batch waits until the system is quiet (no
 * model call or shop call in flight and nothing new for `quietMs`) and then reads the shop.
 */

export interface Reply {
  conversationId: string;
  text: string;
  covers: string[];
  /** The harness clock when the reply arrived. */
  at: number;
}

/** Every reply the harness received, by conversation. */
export class ReplyBook {
  private readonly byConversation = new Map<string, Reply[]>();
  /** Messages whose run failed (a peer said so): no reply will come for them. */
  private readonly failed = new Set<string>();
  lastAt = 0;

  fail(conversationId: string, covers: readonly string[], at: number): void {
    for (const id of covers) this.failed.add(`${conversationId}\u0000${id}`);
    this.lastAt = Math.max(this.lastAt, at);
  }

  /** A reply covers the message, or the run answering it failed. */
  settled(conversationId: string, messageId: string): boolean {
    return (
      this.covering(conversationId, messageId) !== null ||
      this.failed.has(`${conversationId}\u0000${messageId}`)
    );
  }

  add(reply: Reply): void {
    const list = this.byConversation.get(reply.conversationId) ?? [];
    list.push(reply);
    this.byConversation.set(reply.conversationId, list);
    this.lastAt = Math.max(this.lastAt, reply.at);
  }

  of(conversationId: string): Reply[] {
    return this.byConversation.get(conversationId) ?? [];
  }

  /** The first reply that covers the message, or null. */
  covering(conversationId: string, messageId: string): Reply | null {
    return this.of(conversationId).find((r) => r.covers.includes(messageId)) ?? null;
  }
}

export interface BatchOptions {
  staggerMs: number;
  thinkMs: number;
  replyTimeoutMs: number;
  quietMs: number;
  quietTimeoutMs: number;
}

export interface BurstOutcome {
  /** From the burst's last message to the first reply covering it; null when none came. */
  latencyMs: number | null;
  /** Replies that arrived from the burst's first message until the next burst's first. */
  replies: number;
}

export interface ConversationOutcome {
  conversationId: string;
  /** Writes beyond what the customer asked for: orders beyond the first, writes that changed nothing. */
  duplicates: number;
  /** The shop's final state is not what the customer asked for. */
  missing: boolean;
  orders: Order[];
  bursts: BurstOutcome[];
  messages: number;
}

export interface BatchResult {
  system: string;
  round: number;
  conversations: ConversationOutcome[];
  calls: CallRecord[];
  durationMs: number;
}

interface Sent {
  burst: number;
  id: string;
  at: number;
}

export interface BatchContext {
  spec: SystemSpec;
  system: RunningSystem;
  proxy: CountingProxy;
  shop: SharedShop;
  replies: ReplyBook;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Runs one conversation's bursts; returns when its last burst is answered (or timed out). */
async function converse(
  context: BatchContext,
  conversationId: string,
  plan: ConversationPlan,
  options: BatchOptions,
): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (const [burst, messages] of plan.bursts.entries()) {
    let previous = performance.now();
    for (const message of messages) {
      // Gaps run from one send's start to the next, whatever a send took.
      const wait = previous + message.gapMs - performance.now();
      if (wait > 0) await sleep(wait);
      previous = performance.now();
      // Message ids are unique across conversations, as a platform's are (Chat SDK de-duplicates by id).
      const id = `${conversationId}.${message.id}`;
      sent.push({ burst, id, at: previous });
      await context.system.send(conversationId, id, message.text);
    }
    const last = sent[sent.length - 1]!.id;
    await waitUntil(() => context.replies.settled(conversationId, last), options.replyTimeoutMs);
    await sleep(options.thinkMs);
  }
  return sent;
}

export function conversationId(spec: SystemSpec, round: number, plan: ConversationPlan): string {
  return `${spec.id}-r${round}-${plan.key}`;
}

export async function runBatch(
  context: BatchContext,
  round: number,
  plans: ConversationPlan[],
  options: BatchOptions,
): Promise<BatchResult> {
  const { spec, proxy, shop, replies } = context;
  const startedAt = performance.now();
  const firstCall = proxy.calls.length;
  const sentBy = await Promise.all(
    plans.map(async (plan, index) => {
      await sleep(index * options.staggerMs);
      return converse(context, conversationId(spec, round, plan), plan, options);
    }),
  );
  // Quiet: nothing in flight, and no reply or model call for `quietMs`.
  const lastActivity = () =>
    Math.max(
      replies.lastAt,
      ...proxy.calls
        .slice(firstCall)
        .map((c) => Math.max(c.startedAt, c.endedAt ?? Number.POSITIVE_INFINITY)),
    );
  await waitUntil(
    () =>
      proxy.inFlight(spec.id) === 0 &&
      shop.inFlight() === 0 &&
      performance.now() - lastActivity() >= options.quietMs,
    options.quietTimeoutMs,
  );
  const durationMs = performance.now() - startedAt;
  await proxy.settleAborted();
  const invocations = shop.shop.invocations();
  const conversations = plans.map((plan, index) =>
    outcome(conversationId(spec, round, plan), plan, sentBy[index]!, replies, shop, invocations),
  );
  const calls = proxy.calls.slice(firstCall).filter((c) => c.system === spec.id);
  return { system: spec.id, round, conversations, calls, durationMs };
}

function outcome(
  id: string,
  plan: ConversationPlan,
  sent: Sent[],
  replies: ReplyBook,
  shop: SharedShop,
  invocations: readonly Invocation[],
): ConversationOutcome {
  const orders = shop.shop.orders(id);
  const noOps = invocations.filter(
    (i) => i.conversationId === id && !i.changed && i.error === undefined,
  ).length;
  const received = replies.of(id);
  const bursts = plan.bursts.map((messages, burst): BurstOutcome => {
    const mine = sent.filter((s) => s.burst === burst);
    const firstAt = mine[0]?.at ?? Number.POSITIVE_INFINITY;
    const last = mine[mine.length - 1];
    const nextAt = sent.find((s) => s.burst === burst + 1)?.at ?? Number.POSITIVE_INFINITY;
    const cover = last ? received.find((r) => r.covers.includes(last.id)) : undefined;
    return {
      latencyMs: cover && last ? cover.at - last.at : null,
      replies: received.filter((r) => r.at >= firstAt && r.at < nextAt).length,
    };
  });
  return {
    conversationId: id,
    duplicates: Math.max(0, orders.length - 1) + noOps,
    missing: !matchesDesired(orders, plan.desired),
    orders,
    bursts,
    messages: sent.length,
  };
}
