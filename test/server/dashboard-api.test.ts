import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModelClient } from '../../src/core/ports.js';
import { dashboardDir } from '../../src/server/dashboard.js';
import { MemoryKeyStore } from '../../src/server/keys/key-store.js';
import { createService } from '../../src/server/service.js';
import type { ConversationSummary, ConversationView, ModelCallDetail } from '../../src/server/view.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { testService, until } from './helpers.js';

/** What the dashboard reads besides the conversation view: summaries, call details, times. */
let t: Awaited<ReturnType<typeof testService>>;
beforeEach(async () => {
  t = await testService();
});
afterEach(async () => {
  await t.service.idle();
  await t.close();
});

const json = async <T>(path: string): Promise<T> => {
  const res = await t.request('GET', path);
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
};

async function answered(id: string): Promise<ConversationView> {
  await until(async () => (await t.eventsOf(id)).some((e) => e.type === 'reply.undelivered'), 'the reply');
  await t.service.idle();
  return json<ConversationView>(`/v1/conversations/${id}`);
}

describe('the API the dashboard reads', () => {
  it('GET /v1/conversations/{id}/summary: who it waits for, the last message, counts, effects by status', async () => {
    await t.post('c1', 'm1', "I'd like 2 pizzas.");
    const early = await json<ConversationSummary>('/v1/conversations/c1/summary');
    expect(early).toMatchObject({ id: 'c1', messages: 1, waitingFor: 'bot' });
    expect(early.last).toMatchObject({ from: 'customer', text: "I'd like 2 pizzas." });
    await answered('c1');
    const summary = await json<ConversationSummary>('/v1/conversations/c1/summary');
    expect(summary).toMatchObject({
      id: 'c1',
      messages: 1,
      replies: 1,
      waitingFor: null,
      attempts: 1,
      modelCalls: 2,
      effects: { total: 1, running: 0, unknown: 0, awaiting: 0 },
    });
    expect(summary.last?.from).toBe('bot');
    const list = await json<{ conversations: ConversationSummary[] }>('/v1/conversations');
    expect(list.conversations[0]).toEqual(summary);
    const missing = await t.request('GET', '/v1/conversations/nope/summary');
    expect(missing.status).toBe(404);
  });

  it('the view holds each effect status over time, when tool calls were answered and attempts ended', async () => {
    await t.post('c1', 'm1', "I'd like 2 pizzas.");
    const view = await answered('c1');
    const [effect] = view.effects;
    expect(effect!.history.map((h) => h.status)).toEqual(['running', 'done']);
    expect(Date.parse(effect!.history[1]!.at)).toBeGreaterThanOrEqual(Date.parse(effect!.history[0]!.at));
    const [attempt] = view.attempts;
    expect(attempt!.endedAt).toBe(view.replies[0]!.committedAt);
    const tool = attempt!.modelCalls[0]!.toolCalls[0]!;
    expect(tool).toMatchObject({ name: 'create_order', outcome: 'effect', answeredAt: effect!.startedAt });
  });

  it('GET /v1/conversations/{id}/calls/{callId}: the input items with what they carry, the output, timing', async () => {
    await t.post('c1', 'm1', "I'd like 2 pizzas.");
    const view = await answered('c1');
    const [first, second] = view.attempts[0]!.modelCalls;
    const detail = await json<ModelCallDetail>(`/v1/conversations/c1/calls/${first!.id}`);
    expect(detail).toMatchObject({
      conversationId: 'c1',
      id: first!.id,
      attemptId: view.attempts[0]!.id,
      turn: 1,
    });
    expect(detail.lineage).toEqual([first!.id]);
    expect(detail.input).toEqual([
      expect.objectContaining({
        item: expect.objectContaining({ type: 'message', role: 'user' }),
        messageId: 'm1',
        effect: null,
      }),
    ]);
    expect(detail.output.map((item) => item.type)).toContain('function_call');
    expect(detail.durationMs).toBeGreaterThanOrEqual(0);
    expect(detail.usage?.inputTokens).toBeGreaterThan(0);
    const next = await json<ModelCallDetail>(`/v1/conversations/c1/calls/${second!.id}`);
    expect(next.lineage).toEqual([first!.id, second!.id]);
    // The second call answers the first's create_order with the effect's output.
    expect(next.input).toEqual([
      expect.objectContaining({
        item: expect.objectContaining({ type: 'function_call_output' }),
        effect: { effectId: view.effects[0]!.id, status: 'done' },
        answers: first!.toolCalls[0]!.id,
      }),
    ]);
    expect((await t.request('GET', '/v1/conversations/c1/calls/call_999')).status).toBe(404);
    expect((await t.request('GET', '/v1/conversations/c1/calls/nope')).status).toBe(400);
    expect((await t.request('GET', `/v1/conversations/c2/calls/${first!.id}`)).status).toBe(404);
    const other = await t.request('GET', `/v1/conversations/c1/calls/${first!.id}`, { key: t.keysOf.globex });
    expect(other.status).toBe(404);
  });
});

describe('the dashboard at /', () => {
  const dir = mkdtempSync(join(tmpdir(), 'graft-dashboard-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const service = (dashboard: { dir?: string } | false) =>
    createService({
      store: new MemoryStore(),
      keys: new MemoryKeyStore(),
      model: {} as ModelClient,
      tools: [],
      dashboard,
    });

  it('serves the bundle without a key, with a policy that loads nothing from elsewhere', async () => {
    const built = join(dir, 'built');
    mkdirSync(built);
    writeFileSync(join(built, 'index.html'), '<!doctype html><title>graft</title>');
    writeFileSync(join(built, 'app.js'), 'console.log(1)');
    writeFileSync(join(built, 'app.css'), 'body{}');
    const { app } = service({ dir: built });
    const page = await app.request('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('<title>graft</title>');
    const script = await app.request('/dashboard/app.js');
    expect(script.headers.get('content-type')).toContain('javascript');
    expect((await app.request('/dashboard/app.css')).status).toBe(200);
    expect((await app.request('/dashboard/secret.txt')).status).toBe(404);
    expect((await app.request('/dashboard/..%2Fpackage.json')).status).toBe(404);
    // The API still needs its key.
    expect((await app.request('/v1/conversations')).status).toBe(401);
  });

  it('says how to build the dashboard when the bundle is missing, and serves nothing when turned off', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(dashboardDir(empty)).toBeNull();
    const missing = await service({ dir: empty }).app.request('/');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain(
      'npm run build',
    );
    const off = await service(false).app.request('/');
    expect(off.status).toBe(404);
    expect(((await off.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});
