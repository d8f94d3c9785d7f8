import { afterEach, describe, expect, it } from 'vitest';
import type { BrainRequest } from '../../src/core/brain.js';
import { callTool, say } from '../../src/model/scripted-brain.js';
import type { ConversationView } from '../../src/server/view.js';
import { scriptedService, until } from './helpers.js';

/** Humans in the loop over HTTP: approvals, takeover, operator replies, release, the queue. */

type Service = Awaited<ReturnType<typeof scriptedService>>;
let t: Service | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

const textsOf = (r: BrainRequest) =>
  r.input.flatMap((i) => (i.type === 'message' && typeof i.content === 'string' ? [i.content] : []));
const outputsOf = (r: BrainRequest) =>
  r.input.flatMap((i) => (i.type === 'function_call_output' ? [i.output] : []));

/** A conversation's server-sent events, read as they come. */
async function eventStream(s: Service, conversationId: string) {
  const response = await fetch(`${s.url}/v1/conversations/${conversationId}/events`, {
    headers: { authorization: `Bearer ${s.keysOf.acme}` },
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const stream = {
    text: '',
    async readUntil(needle: string) {
      while (!stream.text.includes(needle)) stream.text += decoder.decode((await reader.read()).value);
    },
    cancel: () => reader.cancel(),
  };
  return stream;
}

/** The error an answer carries. */
const refused = (status: number, code: string, message?: RegExp) => ({
  status,
  body: { error: { code, message: message ? expect.stringMatching(message) : expect.any(String) } },
});

describe('approvals over HTTP', () => {
  it('lists a request, shows it in the conversation and the queue, approves it once, and the bot follows up', async () => {
    t = await scriptedService([
      [callTool('cancel', { order: 'o1' })],
      [say('A colleague will confirm the cancellation.')],
      [say('Your order o1 is cancelled.')],
    ]);
    const events = await (async () => {
      expect((await t.post('c1', 'm1', 'Cancel my order o1.')).status).toBe(202);
      return eventStream(t, 'c1');
    })();
    await until(() => t!.receiver.received.length === 1, 'the first reply');
    expect(t.runs).toEqual([]);

    const { status, body } = await t.api('GET', '/v1/approvals');
    expect(status).toBe(200);
    expect(body.approvals).toEqual([
      {
        id: expect.stringMatching(/^c1:eff_\d+_1$/),
        conversationId: 'c1',
        effectId: expect.stringMatching(/^eff_\d+_1$/),
        attemptId: expect.stringMatching(/^att_/),
        tool: 'cancel',
        arguments: { order: 'o1' },
        since: ISO,
        expiresAt: ISO,
      },
    ]);
    const request = body.approvals[0];
    // The tool's approvalTimeoutMs, counted from when graft decided to ask (a moment before the append).
    const waitMs = Date.parse(request.expiresAt) - Date.parse(request.since);
    expect(waitMs > 59_000 && waitMs <= 60_000).toBe(true);
    expect(request.id).toBe(`c1:${request.effectId}`);

    const view = (await t.api('GET', '/v1/conversations/c1')).body;
    expect(view.effects).toEqual([
      expect.objectContaining({
        id: request.effectId,
        status: 'awaiting',
        approval: {
          requestedAt: request.since,
          expiresAt: request.expiresAt,
          decision: null,
          operator: null,
          note: null,
          decidedAt: null,
        },
        note: expect.stringContaining("awaits a person's approval"),
      }),
    ]);
    expect(view.takenOver).toBeNull();
    const queue = (await t.api('GET', '/v1/queue')).body.queue;
    expect(queue).toEqual([
      {
        conversationId: 'c1',
        reasons: [{ reason: 'approval', detail: expect.stringContaining(`cancel (${request.effectId})`) }],
        takenOver: null,
        approvals: [request],
        lastActivityAt: ISO,
      },
    ]);
    // The request was streamed: an effect.started that carries the approval.
    await events.readUntil('"approval":{"expiresAt":');
    expect(events.text).toMatch(
      /event: effect\.started\ndata: .*"approval":\{"expiresAt":\d+\}.*\nid: \d+\n/,
    );

    // Another tenant sees nothing, and cannot decide it.
    const other = { key: t.keysOf.globex };
    expect((await t.api('GET', '/v1/approvals', other)).body).toEqual({ approvals: [] });
    expect(
      await t.api('POST', `/v1/approvals/${encodeURIComponent(request.id)}`, {
        ...other,
        body: { decision: 'approve' },
      }),
    ).toEqual(refused(404, 'not_found'));

    const decided = await t.api('POST', `/v1/approvals/${encodeURIComponent(request.id)}`, {
      body: { decision: 'approve', operator: 'ana', note: 'checked with the warehouse' },
    });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({
      id: request.id,
      conversationId: 'c1',
      effect: {
        id: request.effectId,
        tool: 'cancel',
        approval: {
          decision: 'approved',
          operator: 'ana',
          note: 'checked with the warehouse',
          decidedAt: ISO,
        },
      },
    });
    await until(() => t!.receiver.received.length === 2, 'the follow-up');
    expect(t.receiver.received[1]!.body).toMatchObject({
      kind: 'follow-up',
      text: 'Your order o1 is cancelled.',
    });
    expect(t.runs).toEqual(['cancel o1']);
    expect(outputsOf(t.brain.calls[2]!).join()).toContain('"cancelled":"o1"');
    await events.readUntil('event: effect.approved');
    await events.cancel();

    expect((await t.api('GET', '/v1/approvals')).body).toEqual({ approvals: [] });
    expect((await t.api('GET', '/v1/queue')).body.queue).toEqual([]);
    expect(
      await t.api('POST', `/v1/approvals/${encodeURIComponent(request.id)}`, {
        body: { decision: 'reject' },
      }),
    ).toEqual(refused(409, 'request_not_pending', /already approved by ana/));
    expect(t.runs).toEqual(['cancel o1']);
    // The request counts as a write started only once approved.
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toContain('graft_approval_requests_total{tenant="acme",tool="cancel"} 1');
    expect(metrics).toContain('graft_effects_total{tenant="acme",tool="cancel"} 1');
    expect(metrics).toContain('graft_approval_decisions_total{tenant="acme",decision="approved"} 1');
    expect(t.brain.remaining()).toBe(0);
    expect(t.errors).toEqual([]);
  });

  it('rejects a request with a note that the model is told, and the write never runs', async () => {
    t = await scriptedService([
      [callTool('cancel', { order: 'o2' })],
      [say('A colleague will confirm.')],
      [say('Sorry, the cancellation was declined: it has shipped.')],
    ]);
    await t.post('c2', 'm1', 'Cancel o2.');
    await until(() => t!.receiver.received.length === 1, 'the first reply');
    const [request] = (await t.api('GET', '/v1/approvals')).body.approvals;
    const decided = await t.api('POST', `/v1/approvals/${encodeURIComponent(request.id)}`, {
      body: { decision: 'reject', note: 'already shipped' },
    });
    expect(decided.status).toBe(200);
    expect(decided.body.effect).toMatchObject({
      status: 'failed',
      // No operator given: the library records a generic one.
      approval: { decision: 'rejected', operator: 'operator', note: 'already shipped' },
      note: expect.stringContaining('rejected'),
    });
    await until(() => t!.receiver.received.length === 2, 'the follow-up');
    expect(outputsOf(t.brain.calls[2]!).join()).toContain('already shipped');
    expect(t.runs).toEqual([]);
  });

  it('refuses bad decisions with 400, unknown requests with 404, and asks for a key', async () => {
    t = await scriptedService([[callTool('cancel', { order: 'o3' })], [say('A colleague will confirm.')]]);
    await t.post('c3', 'm1', 'Cancel o3.');
    await until(() => t!.receiver.received.length === 1, 'the reply');
    const [request] = (await t.api('GET', '/v1/approvals')).body.approvals;
    const path = `/v1/approvals/${encodeURIComponent(request.id)}`;
    const decide = (body: unknown) => t!.api('POST', path, { body });
    expect(await decide({})).toEqual(
      refused(400, 'invalid_request', /decision must be "approve" or "reject"/),
    );
    expect(await decide({ decision: 'maybe' })).toEqual(refused(400, 'invalid_request', /decision must be/));
    expect(await decide({ decision: 'approve', operator: ' ' })).toEqual(
      refused(400, 'invalid_request', /operator must be a non-empty string/),
    );
    expect(await decide({ decision: 'approve', note: 5 })).toEqual(
      refused(400, 'invalid_request', /note must be a string/),
    );
    // The library bounds the note; its refusal is a 400 too.
    expect(await decide({ decision: 'approve', note: 'x'.repeat(2_001) })).toEqual(
      refused(400, 'invalid_request', /note is longer than 2000 characters/),
    );
    expect(await decide('{"decision":')).toEqual(refused(400, 'invalid_json'));
    expect(await t.api('POST', '/v1/approvals/nonsense', { body: { decision: 'approve' } })).toEqual(
      refused(400, 'invalid_request', /not a request id \(<conversationId>:<effectId>/),
    );
    expect(await t.api('POST', '/v1/approvals/c3:eff_999_1', { body: { decision: 'approve' } })).toEqual(
      refused(404, 'not_found', /no request for approval eff_999_1/),
    );
    expect(await t.api('POST', '/v1/approvals/nobody:eff_5_1', { body: { decision: 'approve' } })).toEqual(
      refused(404, 'not_found'),
    );
    expect(await t.api('GET', '/v1/approvals', { key: null })).toEqual(refused(401, 'unauthorized'));
    expect(await t.api('GET', '/v1/approvals?limit=x')).toEqual(refused(400, 'invalid_query'));
    // Nothing was decided.
    expect((await t.api('GET', '/v1/approvals')).body.approvals).toEqual([request]);
    expect(t.runs).toEqual([]);
  });
});

describe('a person resolves a write of unknown outcome', () => {
  it('settles it as the person says, unblocks the writes, tells the model, and refuses what is not blocked', async () => {
    t = await scriptedService([
      [callTool('charge', { amount: 5 })],
      (r) => {
        expect(outputsOf(r).join()).toContain('may have completed');
        return [say('A colleague will check your payment.')];
      },
      (r) => {
        expect(outputsOf(r).join()).toContain('confirmed that this call happened');
        expect(outputsOf(r).join()).toContain('bank says it went through');
        return [say('Your payment went through.')];
      },
    ]);
    expect((await t.post('c1', 'm1', 'Charge me 5.')).status).toBe(202);
    await until(() => t!.receiver.received.length === 1, 'the first reply');
    const blocked = (await t.api('GET', '/v1/conversations/c1')).body as ConversationView;
    const effect = blocked.effects[0]!;
    expect(effect).toMatchObject({
      status: 'unknown',
      note: expect.stringMatching(/until a person resolves it/),
    });
    const path = `/v1/conversations/c1/effects/${effect.id}/resolve`;
    expect(await t.api('POST', path, { body: { outcome: 'maybe' } })).toEqual(
      refused(400, 'invalid_request', /outcome must be "done" or "failed"/),
    );
    expect(
      await t.api('POST', '/v1/conversations/c1/effects/eff_99_1/resolve', { body: { outcome: 'done' } }),
    ).toEqual(refused(404, 'not_found'));
    expect(
      await t.api('POST', '/v1/conversations/c1/effects/nope/resolve', { body: { outcome: 'done' } }),
    ).toEqual(refused(400, 'invalid_request', /effect id/));
    const resolved = await t.api('POST', path, {
      body: { outcome: 'done', operator: 'ana', note: 'bank says it went through' },
    });
    expect(resolved).toMatchObject({
      status: 200,
      body: { effect: { status: 'done', note: expect.stringMatching(/resolved as done by ana/) } },
    });
    await until(() => t!.receiver.received.length === 2, 'the follow-up');
    expect(await t.api('POST', path, { body: { outcome: 'failed' } })).toEqual(
      refused(409, 'effect_not_blocked', /is done, not unknown/),
    );
    expect(t.runs).toEqual(['charge 5']);
  });
});

describe('takeover over HTTP', () => {
  it('answers nothing while taken over, delivers the operator, and the bot knows what they said after release', async () => {
    t = await scriptedService([
      [say('Hello! How can I help?')],
      // After the release, the customer's next message: the context holds what the person said.
      [callTool('add', { item: 'cola' })],
      [say('Done: the cola is added, and the dessert is on us as my colleague said.')],
    ]);
    await t.post('c1', 'm1', 'Hello?');
    await until(() => t!.receiver.received.length === 1, 'the first reply');
    const events = await eventStream(t, 'c1');

    expect(await t.api('POST', '/v1/conversations/c1/takeover', { body: { operator: 'ana' } })).toEqual({
      status: 200,
      body: { conversationId: 'c1', status: 'taken-over', operator: 'ana' },
    });
    expect(await t.api('POST', '/v1/conversations/c1/takeover', { body: { operator: 'bob' } })).toEqual(
      refused(409, 'already_taken_over', /already taken over by ana/),
    );
    await events.readUntil('event: conversation.taken-over');

    // A customer message while taken over: recorded, no model call, no write, no reply.
    expect((await t.post('c1', 'm2', 'Can you add a cola?')).status).toBe(202);
    await t.service.idle();
    expect(t.brain.calls).toHaveLength(1);
    expect((await t.eventsOf('c1')).filter((e) => e.type === 'effect.started')).toEqual([]);
    expect(t.receiver.received).toHaveLength(1);
    const view = (await t.api('GET', '/v1/conversations/c1')).body as ConversationView;
    expect(view.takenOver).toEqual({ operator: 'ana', since: ISO });
    expect(view.messages.at(-1)).toMatchObject({ id: 'm2', coveredBy: null });
    expect((await t.api('GET', '/v1/queue')).body.queue).toEqual([
      {
        conversationId: 'c1',
        reasons: [{ reason: 'takeover', detail: 'taken over by ana; 1 message not answered yet' }],
        takenOver: view.takenOver,
        approvals: [],
        lastActivityAt: ISO,
      },
    ]);
    expect((await t.api('GET', '/v1/conversations')).body.conversations).toEqual([
      expect.objectContaining({ id: 'c1', takenOver: 'ana', open: true }),
    ]);

    const sent = await t.api('POST', '/v1/conversations/c1/operator-messages', {
      body: { text: 'We added a cola, and a free dessert.' },
    });
    expect(sent).toEqual({
      status: 202,
      body: { conversationId: 'c1', replyId: expect.stringMatching(/^rep_\d+$/), status: 'committed' },
    });
    await until(() => t!.receiver.received.length === 2, "the operator's reply");
    expect(t.receiver.received[1]!.body).toMatchObject({
      replyId: sent.body.replyId,
      kind: 'operator',
      text: 'We added a cola, and a free dessert.',
      covers: ['m2'],
    });
    await events.readUntil('"kind":"operator"');
    await events.readUntil('event: reply\n');
    expect(events.text).toMatch(
      /event: reply\.committed\ndata: .*"kind":"operator".*"operator":"ana".*\nid: \d+\n/,
    );
    const { replies } = (await t.api('GET', '/v1/conversations/c1')).body as ConversationView;
    expect(replies.at(-1)).toMatchObject({
      kind: 'operator',
      operator: 'ana',
      attemptId: null,
      covers: ['m2'],
    });
    expect(replies[0]).toMatchObject({ kind: 'reply', operator: null });

    expect(await t.api('POST', '/v1/conversations/c1/release')).toEqual({
      status: 200,
      body: { conversationId: 'c1', status: 'released' },
    });
    await events.readUntil('event: conversation.released');
    await events.cancel();
    expect(await t.api('POST', '/v1/conversations/c1/release')).toEqual(
      refused(409, 'not_taken_over', /is not taken over/),
    );
    expect(await t.api('POST', '/v1/conversations/c1/operator-messages', { body: { text: 'hi' } })).toEqual(
      refused(409, 'not_taken_over', /take it over before replying/),
    );
    // Nothing was left to answer: the bot waits for the customer.
    await t.service.idle();
    expect(t.brain.calls).toHaveLength(1);
    expect((await t.api('GET', '/v1/queue')).body.queue).toEqual([]);

    await t.post('c1', 'm3', 'Thanks! Is the cola really there?');
    await until(() => t!.receiver.received.length === 3, "the bot's reply after the release");
    const [, afterRelease] = t.brain.calls;
    expect(textsOf(afterRelease!)).toEqual(
      expect.arrayContaining([
        'Can you add a cola?',
        'We added a cola, and a free dessert.',
        'Thanks! Is the cola really there?',
      ]),
    );
    expect(textsOf(afterRelease!).join()).toContain('member of staff (ana)');
    expect(t.runs).toEqual(['add cola']);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toContain('graft_takeovers_total{tenant="acme"} 1');
    expect(metrics).toContain('graft_replies_total{tenant="acme",kind="operator"} 1');
    // The bot's reply latency leaves out how long the person took.
    expect(metrics).toContain('graft_reply_latency_seconds_count{tenant="acme"} 2');
    expect(t.brain.remaining()).toBe(0);
    expect(t.errors).toEqual([]);
  });

  it('refuses takeovers of unknown conversations, bad bodies and other tenants', async () => {
    t = await scriptedService([[say('Hi!')]]);
    await t.post('c1', 'm1', 'Hi');
    await until(() => t!.receiver.received.length === 1, 'the reply');
    const takeover = (body: unknown, init: { key?: string; id?: string } = {}) =>
      t!.api('POST', `/v1/conversations/${init.id ?? 'c1'}/takeover`, {
        body,
        ...(init.key ? { key: init.key } : {}),
      });
    expect(await takeover({ operator: 'ana' }, { id: 'nobody' })).toEqual(
      refused(404, 'not_found', /no conversation 'nobody'/),
    );
    expect(await takeover({ operator: 'ana' }, { key: t.keysOf.globex })).toEqual(refused(404, 'not_found'));
    expect(await takeover({})).toEqual(
      refused(400, 'invalid_request', /operator must be a non-empty string/),
    );
    expect(await takeover({ operator: 'x'.repeat(201) })).toEqual(
      refused(400, 'invalid_request', /operator is longer than 200 characters/),
    );
    expect(await takeover('not json')).toEqual(refused(400, 'invalid_json'));
    expect(await t.api('POST', '/v1/conversations/nobody/release')).toEqual(refused(404, 'not_found'));
    expect(
      await t.api('POST', '/v1/conversations/nobody/operator-messages', { body: { text: 'hi' } }),
    ).toEqual(refused(404, 'not_found'));
    expect(
      await t.api('POST', '/v1/conversations/c1/takeover', { key: null, body: { operator: 'a' } }),
    ).toEqual(refused(401, 'unauthorized'));

    expect((await takeover({ operator: 'ana' })).status).toBe(200);
    const message = (body: unknown) => t!.api('POST', '/v1/conversations/c1/operator-messages', { body });
    expect(await message({ text: '   ' })).toEqual(
      refused(400, 'invalid_text', /text must be a non-empty string/),
    );
    expect(await message({})).toEqual(refused(400, 'invalid_text'));
    expect(await message({ text: 'x'.repeat(8_001) })).toEqual(
      refused(413, 'message_too_long', /longer than 8000 characters/),
    );
    expect((await t.eventsOf('c1')).filter((e) => e.type === 'reply.committed')).toHaveLength(1);
    expect(t.errors).toEqual([]);
  });
});
