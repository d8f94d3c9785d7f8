import type { ResponseFunctionToolCall, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryShop, createShopTools } from '../../src/demo/shop/index.js';
import { createScriptedBrain } from '../../src/emulator/index.js';
import { toolSpec } from '../../src/tools/define-tool.js';
import { startHarness, type Harness } from './harness.js';
import { loadSpec, type SpecValidators } from './spec.js';

let spec: SpecValidators;
let harness: Harness | null = null;
const checked = { responses: 0, events: 0, errors: 0, lists: 0, deletions: 0 };

beforeAll(() => {
  spec = loadSpec();
});

afterEach(async () => {
  if (!harness) return;
  const violations = await harness.stop();
  const { counts } = harness.conformance;
  for (const key of Object.keys(checked) as (keyof typeof checked)[]) checked[key] += counts[key];
  harness = null;
  expect(violations).toEqual([]);
});

afterAll(() => {
  // Every kind of answer was really seen and checked against the spec.
  expect(Object.values(checked).every((n) => n > 0)).toBe(true);
});

async function start(
  ...args: Parameters<typeof startHarness> extends [unknown, ...infer Rest] ? Rest : never
): Promise<Harness> {
  harness = await startHarness(spec, ...args);
  return harness;
}

const say = (text: string) => [{ type: 'message' as const, text }];
const call = (name: string, args: unknown) => [
  { type: 'function_call' as const, name, arguments: JSON.stringify(args) },
];
const TOOLS = [
  {
    type: 'function' as const,
    name: 'create_order',
    description: 'Create an order',
    parameters: { type: 'object', properties: {} },
    strict: false,
  },
];

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('creating responses through the official SDK', () => {
  it('answers a plain create with a completed response, its text and full usage', async () => {
    const { client } = await start({ brain: createScriptedBrain([say('Hello there!')]) });
    const response = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Hi',
      metadata: { conversation: 'c1' },
    });
    expect(response.status).toBe('completed');
    expect(response.output_text).toBe('Hello there!');
    expect(response.metadata).toEqual({ conversation: 'c1' });
    expect(response.id).toMatch(/^resp_[0-9a-f]{48}$/);
    expect(response.usage).toMatchObject({
      input_tokens_details: { cached_tokens: 0 },
      output_tokens_details: { reasoning_tokens: 0 },
    });
    expect(response.usage!.total_tokens).toBe(response.usage!.input_tokens + response.usage!.output_tokens);
  });

  it('streams the events of a message in the API order, numbered from 0', async () => {
    const { client } = await start({ brain: createScriptedBrain([say('One two three four.')]) });
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'Count', stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const types = events
      .map((e) => e.type)
      .filter((t, i, all) => t !== 'response.output_text.delta' || all[i - 1] !== t);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const text = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');
    expect(text).toBe('One two three four.');
  });

  it('streams a function call as added, argument deltas, done', async () => {
    const { client } = await start({
      brain: createScriptedBrain([call('create_order', { item: 'pizza', quantity: 2 })]),
    });
    const stream = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Order',
      tools: TOOLS,
      stream: true,
    });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const types = [...new Set(events.map((e) => e.type))];
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const last = events.at(-1)!;
    expect(last.type === 'response.completed' && last.response.output[0]).toMatchObject({
      type: 'function_call',
      name: 'create_order',
    });
  });

  it('runs a background response that is polled until it completes', async () => {
    const { client } = await start({
      brain: createScriptedBrain([say('Done in the background.')]),
      latency: { ttftMs: 30, perTokenMs: 1 },
    });
    const created = await client.responses.create({ model: 'gpt-4o-mini', input: 'Work', background: true });
    expect(created.status).toBe('queued');
    const final = await until(
      () => client.responses.retrieve(created.id),
      (r) => r.status === 'completed',
    );
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe('Done in the background.');
  });

  it('re-streams a background response from a sequence number', async () => {
    const { client } = await start({
      brain: createScriptedBrain([say('Resumable text here.')]),
      latency: { ttftMs: 20, perTokenMs: 2 },
    });
    const stream = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Go',
      background: true,
      stream: true,
    });
    const first: ResponseStreamEvent[] = [];
    for await (const event of stream) {
      first.push(event);
      if (first.length === 3) break;
    }
    expect(first.map((e) => e.type)).toEqual(['response.created', 'response.queued', 'response.in_progress']);
    const id = first[0]!.type === 'response.created' ? first[0].response.id : '';
    const resumed = await client.responses.retrieve(id, { stream: true, starting_after: 2 });
    const rest: ResponseStreamEvent[] = [];
    for await (const event of resumed) rest.push(event);
    expect(rest[0]!.sequence_number).toBe(3);
    expect(rest.at(-1)!.type).toBe('response.completed');
  });

  it('supports the responses.stream helper', async () => {
    const { client } = await start({ brain: createScriptedBrain([say('Streamed by the helper.')]) });
    const deltas: string[] = [];
    const stream = client.responses
      .stream({ model: 'gpt-4o-mini', input: 'Hi' })
      .on('response.output_text.delta', (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    expect(final.output_text).toBe('Streamed by the helper.');
    expect(deltas.join('')).toBe('Streamed by the helper.');
  });

  it('retrieves a stored response as it was returned', async () => {
    const { client } = await start({ brain: createScriptedBrain([say('Keep me.')]) });
    const created = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Hi',
      instructions: 'Be brief.',
    });
    const retrieved = await client.responses.retrieve(created.id);
    expect(retrieved).toEqual(created);
  });
});

describe('cancelling and deleting', () => {
  it('cancels a background response, and cancelling twice returns the final object', async () => {
    const { client } = await start({
      brain: createScriptedBrain([say('This will never be finished at all.')]),
      latency: { ttftMs: 2_000, perTokenMs: 10 },
    });
    const created = await client.responses.create({ model: 'gpt-4o-mini', input: 'Work', background: true });
    const cancelled = await client.responses.cancel(created.id);
    expect(cancelled.status).toBe('cancelled');
    const again = await client.responses.cancel(created.id);
    expect(again).toEqual(cancelled);
    expect((await client.responses.retrieve(created.id)).status).toBe('cancelled');
  });

  it('refuses to cancel a synchronous response', async () => {
    const { client } = await start({ brain: createScriptedBrain([say('Sync.')]) });
    const created = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    await expect(client.responses.cancel(created.id)).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('Only responses created with background=true can be cancelled.'),
    });
  });

  it('deletes a response: it can no longer be retrieved or chained', async () => {
    const { client } = await start({ brain: createScriptedBrain([say('Gone soon.')]) });
    const created = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    await client.responses.delete(created.id);
    await expect(client.responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(
      client.responses.create({ model: 'gpt-4o-mini', input: 'More', previous_response_id: created.id }),
    ).rejects.toMatchObject({
      status: 400,
      code: 'previous_response_not_found',
    });
    await expect(client.responses.delete(created.id)).rejects.toMatchObject({ status: 404 });
  });
});

describe('input items', () => {
  it('lists the context with limit, order and after', async () => {
    const brain = createScriptedBrain([say('First answer.'), say('Second answer.')]);
    const { client } = await start({ brain });
    const first = await client.responses.create({
      model: 'gpt-4o-mini',
      input: [
        { role: 'user', content: 'one' },
        { role: 'user', content: 'two' },
      ],
    });
    const second = await client.responses.create({
      model: 'gpt-4o-mini',
      previous_response_id: first.id,
      input: 'three',
    });
    const all = await client.responses.inputItems.list(second.id, { order: 'asc' });
    const texts = all.data.map((item) =>
      item.type === 'message' ? (item.content[0] as { text: string }).text : item.type,
    );
    expect(texts).toEqual(['one', 'two', 'First answer.', 'three']);
    const page = await client.responses.inputItems.list(second.id, { limit: 2 });
    expect(page.data.map((item) => item.id)).toEqual([all.data[3]!.id, all.data[2]!.id]);
    expect(page.has_more).toBe(true);
    const next = await client.responses.inputItems.list(second.id, { limit: 2, after: page.data[1]!.id });
    expect(next.data.map((item) => item.id)).toEqual([all.data[1]!.id, all.data[0]!.id]);
    expect(next.has_more).toBe(false);
  });
});

describe('chains and branches', () => {
  it('creates two children of one parent, each with the parent in its context', async () => {
    const brain = createScriptedBrain([
      call('create_order', { item: 'pizza' }),
      say('Child A.'),
      say('Child B.'),
    ]);
    const { client } = await start({ brain });
    const parent = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Pizza please',
      tools: TOOLS,
      instructions: 'Shop.',
    });
    const callId = (parent.output[0] as ResponseFunctionToolCall).call_id;
    const answer = { type: 'function_call_output' as const, call_id: callId, output: '{"order_id":"o1"}' };
    const a = await client.responses.create({
      model: 'gpt-4o-mini',
      previous_response_id: parent.id,
      input: [answer],
      tools: TOOLS,
      instructions: 'Shop.',
    });
    const b = await client.responses.create({
      model: 'gpt-4o-mini',
      previous_response_id: parent.id,
      input: [answer, { role: 'user', content: 'And a cola' }],
      tools: TOOLS,
      instructions: 'Shop.',
    });
    expect([a.output_text, b.output_text]).toEqual(['Child A.', 'Child B.']);
    expect(brain.calls[1]!.input.map((i) => i.type)).toEqual([
      'message',
      'function_call',
      'function_call_output',
    ]);
    expect(brain.calls[2]!.input.map((i) => i.type)).toEqual([
      'message',
      'function_call',
      'function_call_output',
      'message',
    ]);
    // The parent's whole prompt is a cached prefix of each child's.
    expect(a.usage!.input_tokens_details.cached_tokens).toBe(parent.usage!.input_tokens);
    expect(b.usage!.input_tokens).toBeGreaterThan(a.usage!.input_tokens);
  });

  it('does not carry instructions over a chain', async () => {
    const brain = createScriptedBrain([say('A.'), say('B.')]);
    const { client } = await start({ brain });
    const first = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Hi',
      instructions: 'Speak French.',
    });
    const second = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Again',
      previous_response_id: first.id,
    });
    expect(second.instructions).toBeNull();
    expect(brain.calls[1]!.instructions).toBeNull();
    expect(second.usage!.input_tokens_details.cached_tokens).toBe(0);
  });

  it('puts a reasoning item first for reasoning models, with encrypted content on request', async () => {
    const brain = createScriptedBrain([say('Thought about it.'), say('Again.'), say('Never.')]);
    const { client } = await start({ brain });
    const first = await client.responses.create({
      model: 'gpt-5-mini',
      input: 'Think',
      store: false,
      include: ['reasoning.encrypted_content'],
    });
    const [reasoning, message] = first.output;
    expect(reasoning).toMatchObject({ type: 'reasoning', encrypted_content: expect.any(String) });
    expect(message).toMatchObject({ type: 'message' });
    expect(first.usage!.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    // Stateless replay: the reasoning item with its encrypted content is accepted.
    const replay = [
      { role: 'user' as const, content: 'Think' },
      {
        type: 'reasoning' as const,
        id: reasoning!.id!,
        summary: [],
        encrypted_content: (reasoning as { encrypted_content: string }).encrypted_content,
      },
      { role: 'assistant' as const, content: 'Thought about it.' },
      { role: 'user' as const, content: 'More' },
    ];
    const second = await client.responses.create({ model: 'gpt-5-mini', input: replay, store: false });
    expect(second.output_text).toBe('Again.');
    // Without its encrypted content an unstored reasoning item cannot be found.
    const bare = replay.map((item) =>
      'type' in item && item.type === 'reasoning' ? { ...item, encrypted_content: null } : item,
    );
    await expect(
      client.responses.create({ model: 'gpt-5-mini', input: bare, store: false }),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining(`Item with id '${reasoning!.id}' not found.`),
    });
  });

  it('stops at max_output_tokens with an incomplete response', async () => {
    const { client } = await start({ brain: createScriptedBrain([say('word '.repeat(200))]) });
    const response = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Talk',
      max_output_tokens: 20,
    });
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(response.usage!.output_tokens).toBeLessThanOrEqual(20);
  });
});

describe('the default brain', () => {
  it('is the shop clerk, which drives a create_order call', async () => {
    const { client } = await start();
    const tools = createShopTools(createMemoryShop()).map((tool) => toolSpec(tool));
    const response = await client.responses.create({
      model: 'gpt-4o-mini',
      input: "Hi, I'd like 2 pizzas please",
      tools,
    });
    expect(response.output).toMatchObject([{ type: 'function_call', name: 'create_order' }]);
    const call = response.output[0] as ResponseFunctionToolCall;
    expect(JSON.parse(call.arguments)).toEqual({ items: [{ product: 'pizza', quantity: 2 }] });
  });
});

describe('configurable assumptions', () => {
  const slow = { ttftMs: 300, perTokenMs: 1 };

  it('rejects chaining from an in-progress parent by default, and can wait for it', async () => {
    const rejecting = await start({
      brain: createScriptedBrain([say('Parent.')]),
      latency: { ttftMs: 5_000, perTokenMs: 1 },
    });
    const parent = await rejecting.client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Hi',
      background: true,
    });
    await expect(
      rejecting.client.responses.create({
        model: 'gpt-4o-mini',
        input: 'More',
        previous_response_id: parent.id,
      }),
    ).rejects.toMatchObject({
      status: 400,
      message: `400 Previous response with id '${parent.id}' is still in progress.`,
    });
    await rejecting.client.responses.cancel(parent.id);
    expect(await rejecting.stop()).toEqual([]);
    const waiting = await start({
      brain: createScriptedBrain([say('Parent.'), say('Child.')]),
      latency: slow,
      assumptions: { chainFromInProgress: 'wait' },
    });
    const parent2 = await waiting.client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Hi',
      background: true,
    });
    const child = await waiting.client.responses.create({
      model: 'gpt-4o-mini',
      input: 'More',
      previous_response_id: parent2.id,
    });
    expect(child.output_text).toBe('Child.');
  });

  it('lists only the request input when inputItemsScope is request', async () => {
    const { client } = await start({
      brain: createScriptedBrain([say('A.'), say('B.')]),
      assumptions: { inputItemsScope: 'request' },
    });
    const first = await client.responses.create({ model: 'gpt-4o-mini', input: 'one' });
    const second = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'two',
      previous_response_id: first.id,
    });
    const items = await client.responses.inputItems.list(second.id);
    expect(items.data).toHaveLength(1);
  });

  it('accepts a valid replayed status by default, and rejects it when replayedStatus is reject', async () => {
    const input = [
      { role: 'user' as const, content: 'Order' },
      {
        type: 'function_call' as const,
        call_id: 'call_1',
        name: 'create_order',
        arguments: '{}',
        status: 'completed' as const,
      },
      { type: 'function_call_output' as const, call_id: 'call_1', output: '{}' },
    ];
    const accepting = await start({ brain: createScriptedBrain([say('Fine.')]) });
    expect((await accepting.client.responses.create({ model: 'gpt-4o-mini', input })).output_text).toBe(
      'Fine.',
    );
    expect(await accepting.stop()).toEqual([]);
    const rejecting = await start({
      brain: createScriptedBrain([]),
      assumptions: { replayedStatus: 'reject' },
    });
    await expect(rejecting.client.responses.create({ model: 'gpt-4o-mini', input })).rejects.toMatchObject({
      status: 400,
      param: 'input[1].status',
    });
  });
});
