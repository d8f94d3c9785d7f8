import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EventBody, GraftEvent } from '../../src/core/events.js';
import { EVENT_VERSION } from '../../src/core/events.js';
import type { ConversationKey, EventStore } from '../../src/core/ports.js';
import {
  ConflictError,
  conversationKey,
  DuplicateMessageError,
  IdempotencyConflictError,
} from '../../src/core/ports.js';

/** Builds stored events from bodies, numbered after `afterSeq`. */
export function stamp(afterSeq: number, bodies: EventBody[], at = 1_000): GraftEvent[] {
  return bodies.map((body, i) => ({ ...body, v: EVENT_VERSION, seq: afterSeq + i + 1, at }));
}

const message = (id: string): EventBody => ({
  type: 'message.received',
  messageId: id as never,
  text: `text of ${id}`,
});
const started = (effectId: string, key: string, args = '{"n":1}'): EventBody => ({
  type: 'effect.started',
  attemptId: 'att_2' as never,
  callId: 'call_3' as never,
  owner: 'i1',
  leaseUntil: 0,
  effects: [
    {
      effectId: effectId as never,
      toolCallId: `fc_${effectId}`,
      tool: 'create_order',
      arguments: args,
      idempotencyKey: key as never,
    },
  ],
});

/**
 * The contract every `EventStore` adapter keeps, run against each of them (memory, SQLite,
 * PostgreSQL). `open` makes an empty store; `close` releases it.
 */
export function describeEventStore(name: string, open: () => Promise<EventStore>): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    const c1: ConversationKey = conversationKey('t1', 'c1');
    const c2: ConversationKey = conversationKey('t2', 'c1');

    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('appends at the expected seq and reads back in order, per tenant', async () => {
      await store.append(c1, 0, stamp(0, [message('m1'), message('m2')]));
      await store.append(c1, 2, stamp(2, [message('m3')]));
      await store.append(c2, 0, stamp(0, [message('m1')]));
      const all = await store.read(c1, 0);
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(all[0]).toEqual(stamp(0, [message('m1')])[0]);
      expect((await store.read(c1, 2)).map((e) => e.seq)).toEqual([3]);
      expect(await store.read(c2, 0)).toHaveLength(1);
      expect(await store.read(conversationKey('t1', 'nope'), 0)).toEqual([]);
    });

    it('refuses an append at a stale seq with a ConflictError, writing nothing', async () => {
      await store.append(c1, 0, stamp(0, [message('m1')]));
      await expect(store.append(c1, 0, stamp(0, [message('m2')]))).rejects.toBeInstanceOf(ConflictError);
      await expect(store.append(c1, 5, stamp(5, [message('m2')]))).rejects.toBeInstanceOf(ConflictError);
      expect(await store.read(c1, 0)).toHaveLength(1);
    });

    it('lets exactly one of two racing appends at the same seq in', async () => {
      const results = await Promise.allSettled([
        store.append(c1, 0, stamp(0, [message('a')])),
        store.append(c1, 0, stamp(0, [message('b')])),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(
        results.filter((r) => r.status === 'rejected' && r.reason instanceof ConflictError),
      ).toHaveLength(1);
      expect(await store.read(c1, 0)).toHaveLength(1);
    });

    it('de-duplicates inbound messages by (tenant, conversation, message id)', async () => {
      await store.append(c1, 0, stamp(0, [message('m1')]));
      await expect(store.append(c1, 1, stamp(1, [message('m1')]))).rejects.toBeInstanceOf(
        DuplicateMessageError,
      );
      expect(await store.read(c1, 0)).toHaveLength(1);
      await store.append(c2, 0, stamp(0, [message('m1')]));
    });

    it('keeps the effect ledger with the log: same key and request is fine, another request is refused', async () => {
      await store.append(c1, 0, stamp(0, [started('eff_1_1', 'k1')]));
      expect(await store.ledger(c1, 'k1')).toMatchObject({
        effectId: 'eff_1_1',
        status: 'running',
        tool: 'create_order',
        output: null,
      });
      await store.append(
        c1,
        1,
        stamp(1, [
          {
            type: 'effect.settled',
            effectId: 'eff_1_1' as never,
            outcome: 'failed',
            output: '{"error":"x"}',
          },
        ]),
      );
      expect(await store.ledger(c1, 'k1')).toMatchObject({ status: 'failed', output: '{"error":"x"}' });
      // A failed key may run again, for the same request (arguments in another key order).
      await store.append(c1, 2, stamp(2, [started('eff_3_1', 'k1', '{ "n": 1 }')]));
      expect(await store.ledger(c1, 'k1')).toMatchObject({ effectId: 'eff_3_1', status: 'running' });
      await expect(
        store.append(c1, 3, stamp(3, [started('eff_4_1', 'k1', '{"n":2}')])),
      ).rejects.toBeInstanceOf(IdempotencyConflictError);
      expect(await store.read(c1, 0)).toHaveLength(3);
      expect(await store.ledger(c2, 'k1')).toBeNull();
    });

    it('puts a request for approval in the ledger only once it is approved', async () => {
      const request = started('eff_1_1', 'k1');
      if (request.type !== 'effect.started') throw new Error('unreachable');
      request.effects[0]!.approval = { expiresAt: 60_000 };
      await store.append(c1, 0, stamp(0, [request]));
      expect(await store.ledger(c1, 'k1')).toBeNull();
      await store.append(
        c1,
        1,
        stamp(1, [
          {
            type: 'effect.approved',
            effectId: 'eff_1_1' as never,
            operator: 'ana',
            owner: 'i1',
            leaseUntil: 0,
            request: { tool: 'create_order', arguments: '{"n":1}', idempotencyKey: 'k1' as never },
          },
        ]),
      );
      expect(await store.ledger(c1, 'k1')).toMatchObject({ effectId: 'eff_1_1', status: 'running' });
      const rejected = started('eff_3_1', 'k2');
      if (rejected.type !== 'effect.started') throw new Error('unreachable');
      rejected.effects[0]!.approval = { expiresAt: 60_000 };
      await store.append(
        c1,
        2,
        stamp(2, [
          rejected,
          { type: 'effect.rejected', effectId: 'eff_3_1' as never, cause: 'rejected', operator: 'ana' },
        ]),
      );
      expect(await store.ledger(c1, 'k2')).toBeNull();
    });

    it("keeps a person's reply in the outbox like the bot's", async () => {
      await store.append(
        c1,
        0,
        stamp(0, [
          message('m1'),
          { type: 'conversation.taken-over', operator: 'ana' },
          {
            type: 'reply.committed',
            attemptId: null,
            replyId: 'rep_3' as never,
            text: 'Hello from a person',
            covers: ['m1' as never],
            callId: null,
            kind: 'operator',
            needsHuman: false,
            operator: 'ana',
          },
          { type: 'conversation.released', operator: 'ana' },
        ]),
      );
      expect(await store.outbox()).toEqual([
        expect.objectContaining({ replyId: 'rep_3', kind: 'operator', text: 'Hello from a person' }),
      ]);
      expect((await store.read(c1, 0)).map((e) => e.type)).toEqual([
        'message.received',
        'conversation.taken-over',
        'reply.committed',
        'conversation.released',
      ]);
    });

    it('keeps the outbox with the log, and marks deliveries', async () => {
      const reply: EventBody = {
        type: 'reply.committed',
        attemptId: null,
        replyId: 'rep_1' as never,
        text: 'hi',
        covers: ['m1' as never],
        callId: null,
        kind: 'fallback',
        needsHuman: true,
      };
      await store.append(c1, 0, stamp(0, [reply]));
      const [row] = await store.outbox();
      expect(row).toMatchObject({
        tenantId: 't1',
        conversationId: 'c1',
        replyId: 'rep_1',
        text: 'hi',
        covers: ['m1'],
        kind: 'fallback',
        deliveredAt: null,
      });
      expect(row!.deliveryId).toContain('rep_1');
      await store.append(
        c1,
        1,
        stamp(
          1,
          [{ type: 'reply.delivered', replyId: 'rep_1' as never, deliveryId: row!.deliveryId }],
          2_000,
        ),
      );
      expect(await store.outbox()).toEqual([]);
      expect((await store.outbox({ all: true }))[0]).toMatchObject({ deliveredAt: 2_000 });
    });

    it('lists conversations (paged, per tenant) and the unfinished ones', async () => {
      await store.append(c1, 0, stamp(0, [message('m1')]), { unfinished: true });
      await store.append(conversationKey('t1', 'c2'), 0, stamp(0, [message('m1')]), { unfinished: false });
      await store.append(c2, 0, stamp(0, [message('m1')]));
      expect(await store.conversations()).toEqual([c1, conversationKey('t1', 'c2'), c2]);
      expect(await store.conversations({ tenantId: c1.tenantId, limit: 1 })).toEqual([c1]);
      expect(
        await store.conversations({ tenantId: c1.tenantId, afterConversationId: c1.conversationId }),
      ).toEqual([conversationKey('t1', 'c2')]);
      expect(await store.unfinished()).toEqual([c1]);
      await store.append(c1, 1, stamp(1, [message('m2')]), { unfinished: false });
      expect(await store.unfinished()).toEqual([]);
    });

    it('round-trips every field of an event, including nested items', async () => {
      const body: EventBody = {
        type: 'model.responded',
        callId: 'call_1' as never,
        responseId: 'resp_1',
        output: [
          {
            type: 'function_call',
            id: 'fc_1',
            call_id: 'c',
            name: 'n',
            arguments: '{"a":"é\\u0000"}',
            status: 'completed',
          },
        ],
        usage: { inputTokens: 10, cachedInputTokens: 2, outputTokens: 3, reasoningTokens: 0 },
        calls: [{ toolCallId: 'c', name: 'n', arguments: '{}', kind: 'write', idempotencyKey: 'k' as never }],
      };
      const [event] = stamp(0, [body], 1_700_000_000_123);
      await store.append(c1, 0, [event!]);
      expect(await store.read(c1, 0)).toEqual([event]);
    });

    it('keeps any text as it was written (message, reply, tool output): U+0000, quotes, backslashes, emoji, lone surrogates', async () => {
      const text = 'a\u0000b "q" \\ \u00e9 \u{1F600} \ud800 end';
      const reply: EventBody = {
        type: 'reply.committed',
        attemptId: null,
        replyId: 'rep_1' as never,
        text,
        covers: ['m1' as never],
        callId: null,
        kind: 'reply',
        needsHuman: false,
      };
      await store.append(
        c1,
        0,
        stamp(0, [
          { type: 'message.received', messageId: 'm1' as never, text },
          started('eff_1_1', 'k1'),
          reply,
        ]),
      );
      await store.append(
        c1,
        3,
        stamp(3, [{ type: 'effect.settled', effectId: 'eff_1_1' as never, outcome: 'done', output: text }]),
      );
      const events = await store.read(c1, 0);
      expect(events[0]).toMatchObject({ text });
      expect((await store.outbox())[0]).toMatchObject({ text, covers: ['m1'] });
      expect(await store.ledger(c1, 'k1')).toMatchObject({ status: 'done', output: text });
    });

    it('reads a long log in order, from any seq', async () => {
      let seq = 0;
      for (let batch = 0; batch < 30; batch++) {
        const bodies = Array.from({ length: 1 + (batch % 7) }, (_, i) => message(`m${batch}_${i}`));
        await store.append(c1, seq, stamp(seq, bodies, 1_000 + batch));
        seq += bodies.length;
      }
      const all = await store.read(c1, 0);
      expect(all.map((e) => e.seq)).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
      expect((await store.read(c1, seq - 3)).map((e) => e.seq)).toEqual([seq - 2, seq - 1, seq]);
      expect(await store.read(c1, seq)).toEqual([]);
    });

    it('lets one of many racing appends in per conversation, and all of them across conversations', async () => {
      const keys = Array.from({ length: 8 }, (_, i) => conversationKey('t1', `race${i}`));
      const results = await Promise.allSettled(
        keys.flatMap((key) =>
          Array.from({ length: 5 }, (_, j) => store.append(key, 0, stamp(0, [message(`m${j}`)]))),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(keys.length);
      expect(
        results.filter((r) => r.status === 'rejected').every((r) => r.reason instanceof ConflictError),
      ).toBe(true);
      for (const key of keys) expect(await store.read(key, 0)).toHaveLength(1);
    });

    it('reports a stale append as a ConflictError even when the winner appended the same message', async () => {
      await store.append(c1, 0, stamp(0, [message('m1')]));
      await expect(store.append(c1, 0, stamp(0, [message('m1')]))).rejects.toBeInstanceOf(ConflictError);
      const error = await store.append(c1, 0, stamp(0, [message('m2')])).catch((e: unknown) => e);
      expect(error).toMatchObject({ expectedSeq: 0, actualSeq: 1 });
    });

    it('refuses a batch that holds the same message twice, writing none of it', async () => {
      await expect(store.append(c1, 0, stamp(0, [message('m1'), message('m1')]))).rejects.toBeInstanceOf(
        DuplicateMessageError,
      );
      expect(await store.read(c1, 0)).toEqual([]);
      expect(await store.conversations()).toEqual([]);
      await store.append(c1, 0, stamp(0, [message('m1')]));
    });

    it('keeps the ledger through unknown and late outcomes', async () => {
      await store.append(c1, 0, stamp(0, [started('eff_1_1', 'k1')]));
      await store.append(
        c1,
        1,
        stamp(1, [
          {
            type: 'effect.unknown',
            effectId: 'eff_1_1' as never,
            reason: 'tool time',
            cause: 'timeout',
            reconciler: null,
          },
        ]),
      );
      expect(await store.ledger(c1, 'k1')).toMatchObject({ status: 'unknown', output: null });
      await store.append(
        c1,
        2,
        stamp(2, [
          {
            type: 'effect.settled',
            effectId: 'eff_1_1' as never,
            outcome: 'done',
            output: '{"order":"ord_1"}',
          },
        ]),
      );
      expect(await store.ledger(c1, 'k1')).toMatchObject({
        status: 'done',
        output: '{"order":"ord_1"}',
        effectId: 'eff_1_1',
      });
    });

    it('lists undelivered replies oldest first, with a limit', async () => {
      const reply = (id: string): EventBody => ({
        type: 'reply.committed',
        attemptId: null,
        replyId: id as never,
        text: id,
        covers: [],
        callId: null,
        kind: 'reply',
        needsHuman: false,
      });
      await store.append(c1, 0, stamp(0, [reply('rep_b')], 2_000));
      await store.append(c2, 0, stamp(0, [reply('rep_a')], 1_000));
      await store.append(c1, 1, stamp(1, [reply('rep_c')], 3_000));
      expect((await store.outbox()).map((r) => r.replyId)).toEqual(['rep_a', 'rep_b', 'rep_c']);
      expect((await store.outbox({ limit: 2 })).map((r) => r.replyId)).toEqual(['rep_a', 'rep_b']);
      const delivered: EventBody = { type: 'reply.delivered', replyId: 'rep_b' as never, deliveryId: 'x' };
      await store.append(c1, 2, stamp(2, [delivered], 4_000));
      expect((await store.outbox()).map((r) => r.replyId)).toEqual(['rep_a', 'rep_c']);
      expect(await store.outbox({ all: true })).toHaveLength(3);
    });

    it('tells a watcher about appends after they are durable, until it stops watching', async () => {
      if (!store.watch) return;
      const seen: string[] = [];
      const stop = await store.watch((key, seq) => seen.push(`${key.tenantId}/${key.conversationId}@${seq}`));
      await store.append(c1, 0, stamp(0, [message('m1'), message('m2')]));
      await vi.waitFor(() => expect(seen).toContain('t1/c1@2'), { timeout: 5_000 });
      expect(await store.read(c1, 0)).toHaveLength(2);
      await stop();
      await store.append(c1, 2, stamp(2, [message('m3')]));
      await store.append(c2, 0, stamp(0, [message('m1')]));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(seen).toEqual(['t1/c1@2']);
    });
  });
}
