import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testService } from './helpers.js';

let t: Awaited<ReturnType<typeof testService>>;
beforeEach(async () => {
  t = await testService({
    limits: { bodyBytes: 2_000, messageChars: 500, burst: 3, perMinute: 60, pageSize: 20 },
  });
});
afterEach(async () => {
  await t.service.idle();
  await t.close();
});

/** The error answer of a response: status, code, and a message that names the field. */
async function errorOf(response: Response) {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, ...body.error };
}

describe('validated HTTP input (zod schemas through hono/validator)', () => {
  const path = '/v1/conversations/c1/messages';

  it('names the body field that is wrong, with its code', async () => {
    expect(await errorOf(await t.request('POST', path, { body: { id: 7, text: 'hi' } }))).toEqual({
      status: 400,
      code: 'invalid_message_id',
      message: 'id: messageId must be a non-empty string of at most 200 characters',
    });
    expect(await errorOf(await t.request('POST', path, { body: { id: 'm1', text: 5 } }))).toEqual({
      status: 400,
      code: 'invalid_text',
      message: 'text is required and must be a string',
    });
    expect(
      await errorOf(await t.request('POST', path, { body: { id: 'm1', text: 'hi', metadata: 'x' } })),
    ).toEqual({
      status: 400,
      code: 'invalid_request',
      message: 'metadata must be a JSON object',
    });
    expect(
      await errorOf(await t.request('POST', path, { body: { id: 'm1', text: 'x'.repeat(501) } })),
    ).toEqual({
      status: 413,
      code: 'message_too_long',
      message: 'text is longer than 500 characters',
    });
  });

  it('ignores body fields it does not know, and passes metadata on', async () => {
    const response = await t.request('POST', path, {
      body: { id: 'm1', text: 'Hello!', metadata: { channel: 'web' }, extra: true },
    });
    expect(response.status).toBe(202);
    const received = (await t.eventsOf('c1')).find((e) => e.type === 'message.received');
    expect(received).toMatchObject({ messageId: 'm1', text: 'Hello!', metadata: { channel: 'web' } });
  });

  it('checks the conversation id of every conversation route, not only of POST', async () => {
    const long = 'x'.repeat(201);
    for (const route of [`/v1/conversations/${long}`, `/v1/conversations/${long}/events`]) {
      const answer = await errorOf(await t.request('GET', route));
      expect(answer).toMatchObject({ status: 400, code: 'invalid_conversation_id' });
      expect(answer.message).toMatch(/^conversationId must be a non-empty string/);
    }
  });

  it('names the query parameter that is wrong', async () => {
    expect(await errorOf(await t.request('GET', '/v1/conversations?limit=21'))).toEqual({
      status: 400,
      code: 'invalid_query',
      message: 'limit must be an integer from 0 to 20',
    });
    expect(await errorOf(await t.request('GET', '/v1/conversations?limit=1&limit=2'))).toMatchObject({
      status: 400,
      code: 'invalid_query',
    });
    expect(await errorOf(await t.request('GET', '/v1/conversations?cursor=***'))).toEqual({
      status: 400,
      code: 'invalid_query',
      message: 'cursor is not one this API gave',
    });
    await t.post('c1', 'm1', 'Hello!');
    expect(await errorOf(await t.request('GET', '/v1/conversations/c1/events?after=-1'))).toEqual({
      status: 400,
      code: 'invalid_query',
      message: 'after (or Last-Event-ID) must be an integer from 0 to 9007199254740991',
    });
  });

  it('takes the defaults for absent or empty query parameters', async () => {
    await t.post('c1', 'm1', 'Hello!');
    const page = await t.request('GET', '/v1/conversations?limit=&cursor=');
    expect(page.status).toBe(400); // An empty cursor is not one this API gave.
    const all = (await (await t.request('GET', '/v1/conversations?limit=')).json()) as {
      conversations: unknown[];
    };
    expect(all.conversations).toHaveLength(1);
    const zero = (await (await t.request('GET', '/v1/conversations?limit=0')).json()) as {
      conversations: unknown[];
    };
    expect(zero.conversations).toHaveLength(1);
  });
});
