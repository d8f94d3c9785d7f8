import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { expect, it } from 'vitest';
import type { ModelClient } from '../../src/core/model-port.js';
import { conversationKey } from '../../src/core/ports.js';
import { createGraft } from '../../src/runtime/graft.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { until } from '../server/helpers.js';
import { describePostgres, TEST_POSTGRES_URL } from '../postgres.js';

const LEASE_MS = 60_000;

/** A model that never answers: its call is in flight until it is aborted. */
const hanging: ModelClient = {
  create: (_request, { signal }) =>
    new Promise((_resolve, reject) =>
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
    ),
};

/** A model that answers every call with one line of text. */
const answering: ModelClient = {
  create: () =>
    Promise.resolve({
      responseId: `resp_${randomBytes(4).toString('hex')}`,
      output: [
        {
          type: 'message',
          id: `msg_${randomBytes(4).toString('hex')}`,
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: 'Two pizzas, coming up.', annotations: [] }],
        },
      ],
      usage: { inputTokens: 1, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0 },
      status: 'completed',
    } as never),
};

describePostgres('graceful shutdown on PostgreSQL', () => {
  it('hands a turn in flight to another instance at once, not after the lease expires', async () => {
    const schema = `graft_test_${randomBytes(6).toString('hex')}`;
    const stores = [
      await PostgresStore.open({ url: TEST_POSTGRES_URL, schema, max: 4 }),
      await PostgresStore.open({ url: TEST_POSTGRES_URL, schema, max: 4 }),
    ];
    const delivered: string[] = [];
    const common = { tools: [], pollMs: 50, limits: { leaseMs: LEASE_MS }, tenantId: 't' };
    const a = createGraft({
      ...common,
      store: stores[0]!,
      model: hanging,
      instanceId: 'A',
      deliver: () => undefined,
    });
    const b = createGraft({
      ...common,
      store: stores[1]!,
      model: answering,
      instanceId: 'B',
      deliver: (d) => void delivered.push(d.replyId),
    });
    try {
      await a.receive({ conversationId: 'c1', messageId: 'm1', text: "I'd like 2 pizzas." });
      const events = () => stores[0]!.read(conversationKey('t', 'c1'), 0);
      await until(
        async () => (await events()).some((e) => e.type === 'model.requested'),
        'A calls the model',
      );
      // B holds the conversation (as an instance that served one of its requests would).
      expect((await b.conversation('c1')).live).not.toBeNull();

      const report = await a.shutdown({ timeoutMs: 5_000 });
      expect(report).toMatchObject({ settled: true, released: 1 });
      await expect(a.receive({ conversationId: 'c1', messageId: 'm2', text: 'more' })).rejects.toThrow(
        /shutting down/,
      );

      await until(() => delivered.length > 0, 'B delivers the reply', 15_000);
      const log = await events();
      const released = log.find((e) => e.type === 'lease.released');
      const claimed = log.find((e) => e.type === 'lease.claimed');
      expect(released).toMatchObject({ owner: 'A' });
      expect(claimed).toMatchObject({ owner: 'B' });
      // The claim follows the release, well before A's lease would have run out.
      expect(claimed!.seq).toBeGreaterThan(released!.seq);
      const started = log.find((e) => e.type === 'attempt.started')!;
      expect(claimed!.at).toBeLessThan(started.at + LEASE_MS);
      const commits = log.filter((e) => e.type === 'reply.committed');
      expect(commits).toHaveLength(1);
      expect(commits[0]).toMatchObject({ covers: ['m1'], kind: 'reply' });
    } finally {
      await b.shutdown({ timeoutMs: 2_000 });
      await Promise.all(stores.map((s) => s.close()));
      const admin = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => undefined });
      await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end({ timeout: 1 });
    }
  }, 30_000);
});
