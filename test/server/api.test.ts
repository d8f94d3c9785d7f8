import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sign } from '../../src/server/signature.js';
import type { ConversationSummary, ConversationView } from '../../src/server/view.js';
import { testService, until } from './helpers.js';

let t: Awaited<ReturnType<typeof testService>>;
beforeEach(async () => {
  t = await testService({ limits: { bodyBytes: 2_000, messageChars: 500, burst: 3, perMinute: 60 } });
});
afterEach(async () => {
  await t.service.idle();
  await t.close();
});

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
}

describe('POST /v1/conversations/{id}/messages', () => {
  it('accepts a message with 202 after it is appended, and the same id again with 200 duplicate', async () => {
    const first = await t.post('c1', 'm1', 'Hello!');
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ conversationId: 'c1', messageId: 'm1', status: 'accepted' });
    expect((await t.eventsOf('c1')).filter((e) => e.type === 'message.received')).toHaveLength(1);
    const again = await t.post('c1', 'm1', 'Hello!');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ conversationId: 'c1', messageId: 'm1', status: 'duplicate' });
    await t.service.idle();
    expect((await t.eventsOf('c1')).filter((e) => e.type === 'message.received')).toHaveLength(1);
  });

  it('answers 409 when a message id comes again with another text', async () => {
    await t.post('c1', 'm1', 'Hello!');
    await expectError(await t.post('c1', 'm1', 'Something else'), 409, 'message_id_conflict');
  });

  it('answers 401 without a key, with an unknown key, and with a bad signature when the tenant requires one', async () => {
    await expectError(
      await t.request('POST', '/v1/conversations/c1/messages', { key: null, body: { id: 'm1', text: 'hi' } }),
      401,
      'unauthorized',
    );
    await expectError(
      await t.request('POST', '/v1/conversations/c1/messages', {
        key: 'gk_nope',
        body: { id: 'm1', text: 'hi' },
      }),
      401,
      'unauthorized',
    );
    await expectError(
      await t.request('GET', '/v1/conversations', { headers: { authorization: 'Basic abc' }, key: null }),
      401,
      'unauthorized',
    );
    await t.keys.setTenant({
      tenantId: 'acme',
      webhookUrl: null,
      webhookSecret: null,
      inboundSecret: 'in_secret',
    });
    const body = JSON.stringify({ id: 'm1', text: 'hi' });
    await expectError(
      await t.request('POST', '/v1/conversations/c1/messages', { body }),
      401,
      'invalid_signature',
    );
    await expectError(
      await t.request('POST', '/v1/conversations/c1/messages', {
        body,
        headers: { 'x-graft-signature': sign('wrong', body) },
      }),
      401,
      'invalid_signature',
    );
    await expectError(
      await t.request('POST', '/v1/conversations/c1/messages', {
        body,
        headers: { 'x-graft-signature': 'sha256=zz' },
      }),
      401,
      'invalid_signature',
    );
    const signed = await t.request('POST', '/v1/conversations/c1/messages', {
      body,
      headers: { 'x-graft-signature': sign('in_secret', body) },
    });
    expect(signed.status).toBe(202);
  });

  it('answers 400 for bad JSON, a missing or bad id, a missing text, bad metadata and a bad conversation id', async () => {
    const path = '/v1/conversations/c1/messages';
    await expectError(await t.request('POST', path, { body: '{"id": "m1", ' }), 400, 'invalid_json');
    await expectError(await t.request('POST', path, { body: '[1, 2]' }), 400, 'invalid_json');
    await expectError(await t.request('POST', path, { body: '' }), 400, 'invalid_json');
    await expectError(await t.request('POST', path, { body: { text: 'hi' } }), 400, 'invalid_message_id');
    await expectError(
      await t.request('POST', path, { body: { id: 7, text: 'hi' } }),
      400,
      'invalid_message_id',
    );
    await expectError(
      await t.request('POST', path, { body: { id: '', text: 'hi' } }),
      400,
      'invalid_message_id',
    );
    await expectError(
      await t.request('POST', path, { body: { id: 'm\u0001', text: 'hi' } }),
      400,
      'invalid_message_id',
    );
    await expectError(await t.request('POST', path, { body: { id: 'm1' } }), 400, 'invalid_text');
    await expectError(
      await t.request('POST', path, { body: { id: 'm1', text: '   ' } }),
      400,
      'invalid_text',
    );
    await expectError(
      await t.request('POST', path, { body: { id: 'm1', text: 'hi', metadata: [1] } }),
      400,
      'invalid_request',
    );
    await expectError(await t.post('x'.repeat(201), 'm1', 'hi'), 400, 'invalid_conversation_id');
    await expectError(await t.post('a%01b', 'm1', 'hi'), 400, 'invalid_conversation_id');
    expect(await t.store.conversations()).toEqual([]);
  });

  it('answers 413 for a body over the limit and a text over the limit', async () => {
    await expectError(await t.post('c1', 'm1', 'x'.repeat(3_000)), 413, 'payload_too_large');
    await expectError(await t.post('c1', 'm1', 'x'.repeat(501)), 413, 'message_too_long');
  });

  it('answers 429 with Retry-After past the per-conversation rate, and only for that conversation', async () => {
    for (const id of ['m1', 'm2', 'm3']) expect((await t.post('c1', id, 'Hello!')).status).toBe(202);
    const limited = await t.post('c1', 'm4', 'Hello!');
    await expectError(limited, 429, 'rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await t.post('c2', 'm1', 'Hello!')).status).toBe(202);
  });
});

describe('reading conversations', () => {
  it('shows a conversation, and another tenant gets 404 for it (view, events, list)', async () => {
    await t.post('c1', 'm1', 'Hello!');
    await until(
      async () => (await t.eventsOf('c1')).some((e) => e.type === 'reply.undelivered'),
      'the reply',
    );
    const view = await t.request('GET', '/v1/conversations/c1');
    expect(view.status).toBe(200);
    const body = (await view.json()) as ConversationView;
    expect(body.id).toBe('c1');
    expect(body.messages.map((m) => m.id)).toEqual(['m1']);
    expect(body.replies).toHaveLength(1);
    // No webhook: the reply is readable here and over SSE, but nobody was sent it.
    expect(body.replies[0]).toMatchObject({ covers: ['m1'], status: 'no-target', kind: 'reply' });
    expect(body.attempts[0]!.modelCalls[0]).toMatchObject({ status: 'responded' });
    expect(body.attempts[0]!.modelCalls[0]!.usage!.inputTokens).toBeGreaterThan(0);
    await expectError(
      await t.request('GET', '/v1/conversations/c1', { key: t.keysOf.globex }),
      404,
      'not_found',
    );
    await expectError(
      await t.request('GET', '/v1/conversations/c1/events', { key: t.keysOf.globex }),
      404,
      'not_found',
    );
    const list = (await (
      await t.request('GET', '/v1/conversations', { key: t.keysOf.globex })
    ).json()) as any;
    expect(list).toEqual({ conversations: [], nextCursor: null });
    // The other tenant's message with the same ids is its own conversation.
    expect((await t.post('c1', 'm1', 'Hello!', t.keysOf.globex)).status).toBe(202);
    await expectError(await t.request('GET', '/v1/conversations/nope'), 404, 'not_found');
  });

  it('pages the list of conversations with a cursor', async () => {
    for (const c of ['a', 'b', 'c']) await t.post(c, 'm1', 'Hello!');
    type Page = { conversations: ConversationSummary[]; nextCursor: string | null };
    const first = (await (await t.request('GET', '/v1/conversations?limit=2')).json()) as Page;
    expect(first.conversations.map((c) => c.id)).toEqual(['a', 'b']);
    expect(first.conversations[0]).toMatchObject({ messages: 1 });
    const second = (await (
      await t.request('GET', `/v1/conversations?limit=2&cursor=${first.nextCursor}`)
    ).json()) as Page;
    expect(second.conversations.map((c) => c.id)).toEqual(['c']);
    expect(second.nextCursor).toBeNull();
    await expectError(await t.request('GET', '/v1/conversations?limit=abc'), 400, 'invalid_query');
    await expectError(await t.request('GET', '/v1/conversations?limit=1000'), 400, 'invalid_query');
    await expectError(await t.request('GET', '/v1/conversations?cursor=***'), 400, 'invalid_query');
  });

  it('answers 404 with an error body for unknown routes, and serves /healthz without a key', async () => {
    await expectError(await t.request('GET', '/v1/nothing-here'), 404, 'not_found');
    await expectError(await t.request('DELETE', '/v1/conversations/c1'), 404, 'not_found');
    const health = await t.request('GET', '/healthz', { key: null });
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });
});

describe('metrics and events', () => {
  it('exposes Prometheus counters and the reply latency histogram', async () => {
    await t.post('c1', 'm1', "I'd like 2 pizzas.");
    await until(
      async () => (await t.eventsOf('c1')).some((e) => e.type === 'reply.undelivered'),
      'the reply',
    );
    const response = await t.request('GET', '/metrics', { key: null });
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('# TYPE graft_messages_total counter');
    expect(text).toContain('graft_messages_total{tenant="acme"} 1');
    expect(text).toMatch(/graft_attempts_total\{tenant="acme",reason="message"\} 1/);
    expect(text).toMatch(/graft_effects_total\{tenant="acme",tool="create_order"\} 1/);
    expect(text).toMatch(/graft_model_tokens_total\{tenant="acme",kind="input"\} \d+/);
    expect(text).toContain('# TYPE graft_reply_latency_seconds histogram');
    expect(text).toMatch(/graft_reply_latency_seconds_count\{tenant="acme"\} 1/);
    expect(text).toMatch(/graft_http_requests_total\{method="POST",status="202"\} 1/);
  });

  it('streams the events of a conversation as server-sent events, from the log and then live', async () => {
    await t.post('c1', 'm1', 'Hello!');
    await until(
      async () => (await t.eventsOf('c1')).some((e) => e.type === 'reply.undelivered'),
      'the reply',
    );
    const response = await t.request('GET', '/v1/conversations/c1/events');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const { reader, readUntil, text } = sseReader(response);
    await readUntil('event: reply.undelivered');
    expect(text()).toContain('event: message.received\ndata: {');
    expect(text()).toContain('id: 1\n');
    await t.post('c1', 'm2', 'Do you have fries?');
    await readUntil('event: reply\n');
    const seqs = [...text().matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    await reader.cancel();
    await until(() => t.service.hub.subscribers === 0, 'the stream to close');
    const after = await t.request('GET', '/v1/conversations/c1/events?after=x');
    await expectError(after, 400, 'invalid_query');
  });

  it("streams the tenant's activity: each conversation that grows, and its replies, not another tenant's", async () => {
    const response = await t.request('GET', '/v1/events');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const { reader, readUntil, text } = sseReader(response);
    await readUntil(': open');
    await t.post('c9', 'm1', 'Hello!', t.keysOf.globex);
    await t.post('c7', 'm1', 'Hello!');
    await readUntil('event: reply\n');
    const lines = [...text().matchAll(/^event: conversation\ndata: (.*)$/gm)].map(
      (m) => JSON.parse(m[1]!) as { conversationId: string; seq: number; type: string },
    );
    expect(lines[0]).toMatchObject({ conversationId: 'c7', seq: 1 });
    expect(new Set(lines.map((l) => l.conversationId))).toEqual(new Set(['c7']));
    // Each growth once, in order.
    const seqs = lines.map((l) => l.seq);
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    const committed = (await t.eventsOf('c7')).find((e) => e.type === 'reply.committed')!.seq;
    expect(seqs.at(-1)).toBeGreaterThanOrEqual(committed);
    await reader.cancel();
    await until(() => t.service.hub.subscribers === 0, 'the stream to close');
    expect((await t.request('GET', '/v1/events', { key: null })).status).toBe(401);
  });
});

/** Reads a server-sent event stream as it comes: `readUntil` waits for a piece of text. */
function sseReader(response: Response) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let read = '';
  return {
    reader,
    text: () => read,
    async readUntil(needle: string) {
      while (!read.includes(needle)) read += decoder.decode((await reader.read()).value);
    },
  };
}
