import type { GraftEvent } from '../core/events.js';
import { parseConversationId } from '../core/ids.js';
import { replay } from '../core/state.js';

/** Telegram shows "typing…" for 5 s; WhatsApp drops its indicator after 25 s. */
export const TYPING_REFRESH_MS: Record<string, number> = { telegram: 4_000 };
export const DEFAULT_TYPING_REFRESH_MS = 20_000;
export const DEFAULT_TYPING_MAX_MS = 10 * 60_000;

export interface TypingKeeperOptions {
  readLog: (conversationId: string) => Promise<readonly GraftEvent[]>;
  startTyping: (adapter: string, threadId: string) => Promise<void>;
  /** One interval for every adapter (default: `TYPING_REFRESH_MS`, else 20 s). */
  refreshMs?: number;
  maxMs?: number;
  now?: () => number;
  onError?: (error: unknown, adapter: string) => void;
}

interface Held {
  adapter: string;
  threadId: string;
  since: number;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * Whether a conversation's customer still waits for a reply: a message that no committed reply
 * covers, or whose reply is not delivered yet (`delivered`: messages just delivered). A
 * conversation a person has taken over shows no indicator: the bot is not writing.
 */
export function awaitingReply(
  conversationId: string,
  events: readonly GraftEvent[],
  delivered: readonly string[] = [],
): boolean {
  const state = replay(parseConversationId(conversationId), events);
  if (state.takenOver) return false;
  return state.messages.some((message) => {
    if (delivered.includes(message.messageId)) return false;
    if (message.coveredBy === null) return true;
    return state.replyIndex.get(message.coveredBy)?.delivery === 'pending';
  });
}

/**
 * Holds a platform's typing indicator per conversation: shown when a message arrives, refreshed
 * while the customer waits (read from graft's log, so a reply committed or delivered by another
 * instance ends it too), dropped once the reply that covers every message is delivered. It follows
 * the conversation, not a branch: a superseded attempt neither starts nor holds it.
 */
export class TypingKeeper {
  private readonly held = new Map<string, Held>();
  private readonly now: () => number;
  private readonly maxMs: number;

  constructor(private readonly options: TypingKeeperOptions) {
    this.now = options.now ?? Date.now;
    this.maxMs = options.maxMs ?? DEFAULT_TYPING_MAX_MS;
  }

  /** Conversations whose indicator is held now. */
  get active(): string[] {
    return [...this.held.keys()];
  }

  /** A customer message was recorded: show the indicator now, and keep it up. */
  start(conversationId: string, adapter: string, threadId: string): void {
    const current = this.held.get(conversationId);
    if (current) {
      current.threadId = threadId;
      current.since = this.now();
    } else {
      this.held.set(conversationId, { adapter, threadId, since: this.now(), timer: null });
    }
    this.show(conversationId);
    this.schedule(conversationId);
  }

  /** A reply covering `covers` was posted: drop the indicator unless a message still waits. */
  async delivered(conversationId: string, covers: readonly string[]): Promise<void> {
    if (!this.held.has(conversationId)) return;
    const events = await this.options.readLog(conversationId);
    if (!awaitingReply(conversationId, events, covers)) this.stop(conversationId);
  }

  close(): void {
    for (const conversationId of [...this.held.keys()]) this.stop(conversationId);
  }

  private stop(conversationId: string): void {
    const held = this.held.get(conversationId);
    if (held?.timer) clearTimeout(held.timer);
    this.held.delete(conversationId);
  }

  private show(conversationId: string): void {
    const held = this.held.get(conversationId);
    if (!held) return;
    this.options.startTyping(held.adapter, held.threadId).catch((error: unknown) => {
      this.options.onError?.(error, held.adapter);
    });
  }

  private schedule(conversationId: string): void {
    const held = this.held.get(conversationId);
    if (!held) return;
    if (held.timer) clearTimeout(held.timer);
    const every = this.options.refreshMs ?? TYPING_REFRESH_MS[held.adapter] ?? DEFAULT_TYPING_REFRESH_MS;
    held.timer = setTimeout(() => void this.refresh(conversationId, held), every);
    held.timer.unref?.();
  }

  private async refresh(conversationId: string, held: Held): Promise<void> {
    if (this.held.get(conversationId) !== held) return;
    held.timer = null;
    if (this.now() - held.since > this.maxMs) return this.stop(conversationId);
    let waiting = true;
    try {
      waiting = awaitingReply(conversationId, await this.options.readLog(conversationId));
    } catch (error) {
      // The store does not answer: keep the indicator up, and look again at the next refresh.
      this.options.onError?.(error, held.adapter);
    }
    if (this.held.get(conversationId) !== held) return;
    if (!waiting) return this.stop(conversationId);
    this.show(conversationId);
    this.schedule(conversationId);
  }
}
