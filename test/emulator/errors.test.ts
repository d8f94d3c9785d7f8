import OpenAI, { AuthenticationError, BadRequestError, InternalServerError, NotFoundError } from 'openai';
import type { ResponseFunctionToolCall, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEmulator, createScriptedBrain, UnexpectedModelCallError } from '../../src/emulator/index.js';
import { startHarness, type Harness } from './harness.js';
import { loadSpec, type SpecValidators } from './spec.js';

let spec: SpecValidators;
let harness: Harness | null = null;
let errorsChecked = 0;

beforeAll(() => {
  spec = loadSpec();
});

afterEach(async () => {
  if (!harness) return;
  const violations = await harness.stop();
  const { counts } = harness.conformance;
  errorsChecked += counts.errors;
  harness = null;
  expect(violations).toEqual([]);
});

afterAll(() => {
  expect(errorsChecked).toBeGreaterThan(10);
});

async function start(
  ...args: Parameters<typeof startHarness> extends [unknown, ...infer Rest] ? Rest : never
): Promise<Harness> {
  harness = await startHarness(spec, ...args);
  return harness;
}

const say = (text: string) => [{ type: 'message' as const, text }];
const call = (name: string) => [{ type: 'function_call' as const, name, arguments: '{}' }];
const TOOLS = [
  {
    type: 'function' as const,
    name: 'create_order',
    parameters: { type: 'object', properties: {} },
    strict: false,
  },
];

/** Posts a raw body (the SDK would not send a malformed one) and returns the status and JSON answer. */
async function rawPost(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: { error: Record<string, unknown> } }> {
  const res = await fetch(`${url}/responses`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  const json = (await res.json()) as { error: Record<string, unknown> };
  spec.check('ErrorResponse', json);
  return { status: res.status, json };
}

describe('the API errors', () => {
  it('answers an unknown id with 404 and the API message', async () => {
    const { client } = await start({ brain: createScriptedBrain([]) });
    const error = await client.responses.retrieve('resp_missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ status: 404, message: "404 Response with id 'resp_missing' not found." });
    await expect(client.responses.inputItems.list('resp_missing')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.responses.cancel('resp_missing')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses to chain from or retrieve a store:false response', async () => {
    const { client } = await start({ brain: createScriptedBrain([say('Not stored.')]) });
    const unstored = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi', store: false });
    const error = await client.responses
      .create({ model: 'gpt-4o-mini', input: 'More', previous_response_id: unstored.id })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error).toMatchObject({
      status: 400,
      code: 'previous_response_not_found',
      param: 'previous_response_id',
      message: `400 Previous response with id '${unstored.id}' not found.`,
    });
    await expect(client.responses.retrieve(unstored.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('rejects a function_call_output that answers no call in context', async () => {
    const { client } = await start({ brain: createScriptedBrain([]) });
    const error = await client.responses
      .create({
        model: 'gpt-4o-mini',
        input: [{ type: 'function_call_output', call_id: 'call_nope', output: 'ok' }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toBe(
      '400 No tool call found for function call output with call_id call_nope.',
    );
  });

  it('rejects new input while the parent still has unanswered function calls', async () => {
    const { client } = await start({ brain: createScriptedBrain([call('create_order')]) });
    const parent = await client.responses.create({ model: 'gpt-4o-mini', input: 'Order', tools: TOOLS });
    const callId = (parent.output[0] as ResponseFunctionToolCall).call_id;
    const error = await client.responses
      .create({ model: 'gpt-4o-mini', input: 'And a cola', previous_response_id: parent.id })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toBe(`400 No tool output found for function call ${callId}.`);
  });

  it('rejects output-only status: null replayed inside an input item as an unknown parameter', async () => {
    const { client } = await start({ brain: createScriptedBrain([]) });
    const input = [
      { role: 'user', content: 'Order' },
      { type: 'function_call', call_id: 'call_1', name: 'create_order', arguments: '{}', status: null },
      { type: 'function_call_output', call_id: 'call_1', output: '{}' },
    ];
    const error = await client.responses
      .create({ model: 'gpt-4o-mini', input: input as never })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error).toMatchObject({
      code: 'unknown_parameter',
      param: 'input[1].status',
      message: "400 Unknown parameter: 'input[1].status'.",
    });
    const topLevel = await client.responses
      .create({ model: 'gpt-4o-mini', input: 'Hi', colour: 'blue' } as never)
      .catch((e: unknown) => e);
    expect(topLevel).toMatchObject({
      status: 400,
      param: 'colour',
      message: "400 Unknown parameter: 'colour'.",
    });
  });

  it('names the param of a missing model, a wrong type and malformed JSON', async () => {
    const { client, url } = await start({ brain: createScriptedBrain([]) });
    await expect(client.responses.create({ input: 'Hi' } as never)).rejects.toMatchObject({
      status: 400,
      param: 'model',
      code: 'missing_required_parameter',
    });
    await expect(
      client.responses.create({ model: 'gpt-4o-mini', input: 'Hi', store: 'yes' } as never),
    ).rejects.toMatchObject({
      status: 400,
      param: 'store',
      message: "400 Invalid type for 'store': expected a boolean, but got a string instead.",
    });
    const malformed = await rawPost(url, '{"model": "gpt-4o-mini",');
    expect(malformed.status).toBe(400);
    expect(malformed.json.error).toMatchObject({ type: 'invalid_request_error', param: null });
  });

  it('answers 401 for a missing or wrong API key when started with one', async () => {
    const { url } = await start(
      { brain: createScriptedBrain([say('Authorised.')]), apiKey: 'sk-right-key-123456' },
      'sk-wrong-key-1234567',
    );
    const wrong = new OpenAI({ apiKey: 'sk-wrong-key-1234567', baseURL: url, maxRetries: 0 });
    const error = await wrong.responses
      .create({ model: 'gpt-4o-mini', input: 'Hi' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ status: 401, code: 'invalid_api_key' });
    const missing = await rawPost(url, '{}');
    expect(missing.status).toBe(401);
    const right = new OpenAI({ apiKey: 'sk-right-key-123456', baseURL: url, maxRetries: 0 });
    expect((await right.responses.create({ model: 'gpt-4o-mini', input: 'Hi' })).output_text).toBe(
      'Authorised.',
    );
  });

  it('fails loudly on a call the scripted brain did not expect: 500 over HTTP, a throw in process', async () => {
    const { client } = await start({ brain: createScriptedBrain([]) });
    const error = await client.responses
      .create({ model: 'gpt-4o-mini', input: 'Surprise' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as Error).message).toContain('Scripted brain: unexpected model call #1');
    const brain = createScriptedBrain([]);
    expect(() => brain({ model: 'm', instructions: null, input: [], tools: [] })).toThrow(
      UnexpectedModelCallError,
    );
  });
});

describe('streams that fail or are left', () => {
  it('sends an error event then response.failed when generation fails mid-stream', async () => {
    const { client } = await start({
      brain: createScriptedBrain([say('This breaks half way.')]),
      faults: { midStreamErrorRate: 1 },
    });
    const events: ResponseStreamEvent[] = [];
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi', stream: true });
    const error = await (async () => {
      for await (const event of stream) events.push(event);
    })().catch((e: unknown) => e);
    // The SDK throws on the error event (its `error` field), with the API's message.
    expect(error).toMatchObject({ message: expect.stringContaining('The server had an error') });
    expect(events.map((e) => e.type)).toContain('response.output_text.delta');
  });

  it('stops generating when the client aborts a stream', async () => {
    const long = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    const { client, emulator } = await start({
      brain: createScriptedBrain([say(long)]),
      latency: { ttftMs: 0, perTokenMs: 5 },
    });
    const controller = new AbortController();
    const stream = await client.responses.create(
      { model: 'gpt-4o-mini', input: 'Talk', stream: true },
      { signal: controller.signal },
    );
    let id = '';
    const consumed = (async () => {
      for await (const event of stream) {
        if (event.type === 'response.created') id = event.response.id;
        if (event.type === 'response.output_text.delta') controller.abort();
      }
    })();
    await consumed; // The SDK ends the iteration quietly on abort.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stored = emulator.engine.store.get(id)!;
    expect(stored.response.status).toBe('cancelled');
    const text =
      stored.response.output[0]?.type === 'message'
        ? (stored.response.output[0].content[0] as { text: string }).text
        : '';
    expect(text.length).toBeLessThan(long.length / 2);
    expect(stored.run!.isEnded).toBe(true);
  });
});

describe('fault knobs', () => {
  it('injects 429s with retry-after and 500s, the same ones for the same seed', async () => {
    const outcomes = async (seed: number): Promise<string[]> => {
      const emulator = createEmulator({
        brain: () => [{ type: 'message', text: 'ok' }],
        faults: { rate429: 0.3, rate500: 0.2, retryAfterMs: 1500 },
        seed,
      });
      const { url, close } = await emulator.listen(0);
      const results: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${url}/responses`, {
          method: 'POST',
          body: JSON.stringify({ model: 'm', input: 'hi' }),
        });
        results.push(`${res.status}:${res.headers.get('retry-after-ms') ?? ''}`);
        const body: unknown = await res.json();
        spec.check(res.status === 200 ? 'Response' : 'ErrorResponse', body);
      }
      await close();
      return results;
    };
    const first = await outcomes(7);
    expect(await outcomes(7)).toEqual(first);
    expect(first).toContain('429:1500');
    expect(first).toContain('500:');
    expect(first).toContain('200:');
  });

  it('stalls generation for stallMs', async () => {
    const { client } = await start({
      brain: createScriptedBrain([say('Late.')]),
      faults: { stallRate: 1, stallMs: 150 },
    });
    const started = Date.now();
    await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });
});
