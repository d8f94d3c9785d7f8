/** Inputs the fuzzers found, shrunk, kept as tests. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzWorld, type FuzzWorld } from './world.js';

describe('inputs found by the HTTP fuzzer', () => {
  let world: FuzzWorld;
  beforeAll(async () => {
    world = await fuzzWorld({ seed: 1 });
  });
  afterAll(() => world.close());
  const post = (conversationId: string, body: string) =>
    world.service.app.request(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${world.keys.a}`, 'content-type': 'application/json' },
      body,
    });

  it('refuses metadata nested thousands deep with a 400 (it overflowed the stack: a 500)', async () => {
    // Found with seed 41: {"id":"deep","text":"hi","metadata":{"m":[[[…]]]}}, 5,000 levels.
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
    const res = await post('c1', `{"id":"deep","text":"hi","metadata":{"m":${deep}}}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { code: 'invalid_request', message: expect.stringContaining('nested deeper') as string },
    });
    await world.service.idle();
    expect(world.errors).toEqual([]);
  });

  it('still accepts metadata nested a little', async () => {
    const nested = `${'{"a":'.repeat(20)}1${'}'.repeat(20)}`;
    const res = await post('c2', `{"id":"shallow","text":"hi","metadata":{"m":${nested}}}`);
    expect(res.status).toBe(202);
  });
});
