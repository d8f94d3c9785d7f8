import { invariant } from '../../core/errors.js';
import type { GraftEvent } from '../../core/events.js';
import type {
  AppendOptions,
  ConversationKey,
  EventStore,
  LedgerEntry,
  OutboxEntry,
} from '../../core/ports.js';
import { ConflictError, DuplicateMessageError, IdempotencyConflictError } from '../../core/ports.js';
import { projectionOps } from '../projection.js';

interface Stream {
  key: ConversationKey;
  log: GraftEvent[];
  messageIds: Set<string>;
  ledger: Map<string, LedgerEntry>;
  outbox: Map<string, OutboxEntry>;
  unfinished: boolean;
}

const id = (key: ConversationKey) => `${key.tenantId}\u0000${key.conversationId}`;

/**
 * The in-memory event store: for tests, the simulator and trying graft out. Same contract as the
 * durable stores; nothing survives the process.
 */
export class MemoryStore implements EventStore {
  private readonly streams = new Map<string, Stream>();
  private readonly listeners = new Set<(key: ConversationKey, seq: number) => void>();
  private readonly copy: <T>(value: T) => T;

  /**
   * @param options.copy Store and hand out copies (default), so that no caller can change the log
   *   by mutating an object. The simulator, which never mutates events, turns it off for speed.
   */
  constructor(options: { copy?: boolean } = {}) {
    this.copy = options.copy === false ? (value) => value : (value) => structuredClone(value);
  }

  private stream(key: ConversationKey): Stream {
    let stream = this.streams.get(id(key));
    if (!stream) {
      stream = {
        key: { ...key },
        log: [],
        messageIds: new Set(),
        ledger: new Map(),
        outbox: new Map(),
        unfinished: false,
      };
      this.streams.set(id(key), stream);
    }
    return stream;
  }

  append(
    key: ConversationKey,
    expectedSeq: number,
    events: readonly GraftEvent[],
    options: AppendOptions = {},
  ): Promise<void> {
    const stream = this.stream(key);
    if (stream.log.length !== expectedSeq)
      return Promise.reject(new ConflictError(key, expectedSeq, stream.log.length));
    events.forEach((event, i) =>
      invariant(event.seq === expectedSeq + i + 1, `event seq ${event.seq} is not ${expectedSeq + i + 1}`),
    );
    const ops = projectionOps(key, events);
    // Check everything first: an append writes all of it or nothing.
    const newIds = new Set<string>();
    for (const op of ops) {
      if (op.op === 'message' && (stream.messageIds.has(op.messageId) || newIds.has(op.messageId))) {
        return Promise.reject(new DuplicateMessageError(key, op.messageId));
      }
      if (op.op === 'message') newIds.add(op.messageId);
      const row = op.op === 'ledger-start' ? stream.ledger.get(op.idempotencyKey) : undefined;
      if (op.op === 'ledger-start' && row && row.requestHash !== op.requestHash) {
        return Promise.reject(new IdempotencyConflictError(key, op.idempotencyKey));
      }
    }
    for (const op of ops) this.project(stream, op);
    for (const event of events) stream.log.push(this.copy(event));
    if (options.unfinished !== undefined) stream.unfinished = options.unfinished;
    const seq = stream.log.length;
    for (const listener of this.listeners) queueMicrotask(() => listener(stream.key, seq));
    return Promise.resolve();
  }

  private project(stream: Stream, op: ReturnType<typeof projectionOps>[number]): void {
    const { tenantId, conversationId } = stream.key;
    switch (op.op) {
      case 'message':
        stream.messageIds.add(op.messageId);
        return;
      case 'ledger-start':
        stream.ledger.set(op.idempotencyKey, {
          tenantId,
          conversationId,
          idempotencyKey: op.idempotencyKey,
          requestHash: op.requestHash,
          effectId: op.effectId,
          tool: op.tool,
          status: 'running',
          output: null,
        });
        return;
      case 'ledger-status':
        for (const row of stream.ledger.values())
          if (row.effectId === op.effectId)
            Object.assign(row, { status: op.status, output: op.output ?? row.output });
        return;
      case 'outbox-add':
        stream.outbox.set(op.replyId, {
          tenantId,
          conversationId,
          replyId: op.replyId,
          deliveryId: op.deliveryId,
          text: op.text,
          covers: [...op.covers],
          kind: op.kind,
          committedAt: op.committedAt,
          deliveredAt: null,
        });
        return;
      case 'outbox-delivered': {
        const row = stream.outbox.get(op.replyId);
        if (row) row.deliveredAt ??= op.deliveredAt;
        return;
      }
    }
  }

  read(key: ConversationKey, afterSeq: number): Promise<GraftEvent[]> {
    const log = this.streams.get(id(key))?.log ?? [];
    return Promise.resolve(log.slice(afterSeq).map((e) => this.copy(e)));
  }

  conversations(
    options: { tenantId?: string; afterConversationId?: string; limit?: number } = {},
  ): Promise<ConversationKey[]> {
    const keys = [...this.streams.values()]
      .filter((s) => s.log.length > 0)
      .map((s) => s.key)
      .filter((k) => options.tenantId === undefined || k.tenantId === options.tenantId)
      .filter(
        (k) => options.afterConversationId === undefined || k.conversationId > options.afterConversationId,
      )
      .sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
    return Promise.resolve(keys.slice(0, options.limit ?? keys.length).map((k) => ({ ...k })));
  }

  unfinished(): Promise<ConversationKey[]> {
    return Promise.resolve([...this.streams.values()].filter((s) => s.unfinished).map((s) => ({ ...s.key })));
  }

  ledger(key: ConversationKey, idempotencyKey: string): Promise<LedgerEntry | null> {
    const row = this.streams.get(id(key))?.ledger.get(idempotencyKey);
    return Promise.resolve(row ? { ...row } : null);
  }

  outbox(options: { all?: boolean; limit?: number } = {}): Promise<OutboxEntry[]> {
    const rows = [...this.streams.values()]
      .flatMap((s) => [...s.outbox.values()])
      .filter((r) => options.all === true || r.deliveredAt === null)
      .sort((a, b) => a.committedAt - b.committedAt);
    return Promise.resolve(
      rows.slice(0, options.limit ?? rows.length).map((r) => ({ ...r, covers: [...r.covers] })),
    );
  }

  watch(listener: (key: ConversationKey, seq: number) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    return Promise.resolve(() => {
      this.listeners.delete(listener);
      return Promise.resolve();
    });
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }
}
