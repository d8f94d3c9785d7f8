import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BrainOutput } from '../../src/core/brain.js';
import { RetryableError, TerminalError } from '../../src/core/errors.js';
import type { FunctionCallItem, InputItem } from '../../src/core/items.js';
import { ChainBrokenError, ModelCallAborted, type ModelRequest } from '../../src/core/model-port.js';
import { createScriptedBrain, type EmulatorOptions } from '../../src/emulator/index.js';
import { OpenAIModelClient, retryAfterMs } from '../../src/model/openai/index.js';
import { startHarness, type Harness } from './harness.js';
import { loadSpec, type SpecValidators } from './spec.js';

let spec: SpecValidators;
let harness: Harness | null = null;

beforeAll(() => {
  spec = loadSpec();
});

afterEach(async () => {
  if (!harness) return;
  const violations = await harness.stop();
  harness = null;
  expect(violations).toEqual([]);
});

/** An emulator, and a model client that talks to it through the spec-checking SDK client. */
async function start(options: EmulatorOptions, clientOptions: { idleTimeoutMs?: number } = {}) {
  harness = await startHarness(spec, options);
  return { harness, model: new OpenAIModelClient({ client: harness.client, ...clientOptions }) };
}

const say = (text: string): BrainOutput[] => [{ type: 'message', text }];
const TOOL = {
  type: 'function' as const,
  name: 'create_order',
  description: 'Create an order',
  parameters: { type: 'object', properties: {} },
  strict: false,
};

function request(input: InputItem[], overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    model: 'gpt-4o-mini',
    instructions: 'You are a shop clerk.',
    input,
    previousResponseId: null,
    store: true,
    tools: [TOOL],
    include: [],
    ...overrides,
  };
}

const user = (content: string): InputItem => ({ type: 'message', role: 'user', content });
const signal = () => new AbortController().signal;

describe('the OpenAI model client against the emulator', () => {
  it('maps output items and usage, in chain mode', async () => {
    const brain = createScriptedBrain([
      [
        { type: 'message', text: 'Placing it.' },
        { type: 'function_call', name: 'create_order', arguments: '{"item":"pizza"}' },
      ],
      say('Your order is placed.'),
    ]);
    const { harness, model } = await start({ brain });
    const first = await model.create(request([user('A pizza')]), { signal: signal() });
    expect(first.status).toBe('completed');
    expect(first.output.map((item) => item.type)).toEqual(['message', 'function_call']);
    const callItem = first.output[1] as FunctionCallItem & { id: string };
    expect(callItem).toMatchObject({
      name: 'create_order',
      arguments: '{"item":"pizza"}',
      call_id: expect.stringMatching(/^call_/),
    });
    const stored = await harness.client.responses.retrieve(first.responseId);
    expect(first.usage).toEqual({
      inputTokens: stored.usage!.input_tokens,
      cachedInputTokens: 0,
      outputTokens: stored.usage!.output_tokens,
      reasoningTokens: 0,
    });
    const second = await model.create(
      request([{ type: 'function_call_output', call_id: callItem.call_id, output: '{"order_id":"o1"}' }], {
        previousResponseId: first.responseId,
      }),
      { signal: signal() },
    );
    expect(second.output).toMatchObject([{ type: 'message', content: [{ text: 'Your order is placed.' }] }]);
    expect(second.usage.cachedInputTokens).toBe(first.usage.inputTokens);
    expect(harness.emulator.stats().creates).toBe(2);
  });

  it('replays reasoning items with encrypted content in stateless mode', async () => {
    const brain = createScriptedBrain([say('First.'), say('Second.')]);
    const { model } = await start({ brain });
    const stateless = { model: 'o4-mini', store: false, include: ['reasoning.encrypted_content'] };
    const first = await model.create(request([user('Hi')], stateless), { signal: signal() });
    expect(first.output[0]).toMatchObject({ type: 'reasoning', encrypted_content: expect.any(String) });
    expect(first.usage.reasoningTokens).toBeGreaterThan(0);
    const transcript: InputItem[] = [user('Hi'), ...(first.output as InputItem[]), user('Again')];
    const second = await model.create(request(transcript, stateless), { signal: signal() });
    expect(second.output.at(-1)).toMatchObject({ type: 'message', content: [{ text: 'Second.' }] });
  });

  it('stops the generation when the signal aborts', async () => {
    const long = Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ');
    const { harness, model } = await start({
      brain: createScriptedBrain([say(long)]),
      latency: { ttftMs: 0, perTokenMs: 5 },
    });
    const controller = new AbortController();
    const call = model.create(request([user('Talk')]), { signal: controller.signal });
    // Abort once the emulator is generating, however slow the machine.
    await vi.waitFor(() => expect(harness.emulator.engine.store.all()).toHaveLength(1));
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(ModelCallAborted);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [record] = harness.emulator.engine.store.all();
    expect(record!.response.status).toBe('cancelled');
    expect(record!.run!.isEnded).toBe(true);
  });

  it('does not call the API when the signal is already aborted', async () => {
    const { harness, model } = await start({ brain: createScriptedBrain([]) });
    const controller = new AbortController();
    controller.abort();
    await expect(model.create(request([user('Hi')]), { signal: controller.signal })).rejects.toBeInstanceOf(
      ModelCallAborted,
    );
    expect(harness.emulator.stats().creates).toBe(0);
  });

  it('classifies a 429 as retryable with the server retry-after, and does not retry it', async () => {
    const { harness, model } = await start({
      brain: createScriptedBrain([]),
      faults: { rate429: 1, retryAfterMs: 1500 },
    });
    const error = await model.create(request([user('Hi')]), { signal: signal() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ retryAfterMs: 1500, code: 'rate_limit_exceeded' });
    expect(harness.emulator.stats().creates).toBe(1);
  });

  it('classifies a 500 and a mid-stream server error as retryable, each sent once', async () => {
    const failing = await start({ brain: createScriptedBrain([]), faults: { rate500: 1 } });
    await expect(failing.model.create(request([user('Hi')]), { signal: signal() })).rejects.toBeInstanceOf(
      RetryableError,
    );
    expect(failing.harness.emulator.stats().creates).toBe(1);
    expect(await failing.harness.stop()).toEqual([]);
    const { harness: midStream, model } = await start({
      brain: createScriptedBrain([say('Breaks in the middle.')]),
      faults: { midStreamErrorRate: 1 },
    });
    const error = await model.create(request([user('Hi')]), { signal: signal() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: 'server_error' });
    expect(midStream.emulator.stats().creates).toBe(1);
  });

  it('classifies a 400 as terminal with the API message', async () => {
    const { harness, model } = await start({ brain: createScriptedBrain([]) });
    const input: InputItem[] = [{ type: 'function_call_output', call_id: 'call_x', output: '{}' }];
    const error = await model.create(request(input), { signal: signal() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TerminalError);
    expect((error as Error).message).toBe('No tool call found for function call output with call_id call_x.');
    expect(harness.emulator.stats().creates).toBe(1);
  });

  it('classifies previous_response_not_found as a broken chain', async () => {
    const { model } = await start({ brain: createScriptedBrain([say('Unstored.')]) });
    const unstored = await model.create(request([user('Hi')], { store: false }), { signal: signal() });
    const error = await model
      .create(request([user('More')], { previousResponseId: unstored.responseId }), { signal: signal() })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChainBrokenError);
    expect((error as Error).message).toBe(`Previous response with id '${unstored.responseId}' not found.`);
  });

  it('gives up a stalled stream as retryable after the idle timeout', async () => {
    const { model } = await start(
      { brain: createScriptedBrain([say('Too late.')]), faults: { stallRate: 1, stallMs: 2_000 } },
      { idleTimeoutMs: 100 },
    );
    const error = await model.create(request([user('Hi')]), { signal: signal() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: 'timeout' });
  });

  it('classifies a refused connection as retryable', async () => {
    const model = new OpenAIModelClient({ apiKey: 'unused', baseURL: 'http://127.0.0.1:9/v1' });
    await expect(model.create(request([user('Hi')]), { signal: signal() })).rejects.toBeInstanceOf(
      RetryableError,
    );
  });

  it('is configured by apiKey, baseURL and model', async () => {
    const brain = createScriptedBrain([say('Configured.')]);
    const { harness } = await start({ brain, apiKey: 'sk-emulator' });
    const model = new OpenAIModelClient({
      apiKey: 'sk-emulator',
      baseURL: harness.url,
      model: 'gpt-4.1-nano',
    });
    const result = await model.create(request([user('Hi')]), { signal: signal() });
    expect(result.output).toMatchObject([{ type: 'message' }]);
    expect(brain.calls[0]!.model).toBe('gpt-4.1-nano');
  });
});

describe('retry-after', () => {
  it('reads retry-after-ms, retry-after seconds and an HTTP date', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250.5' }))).toBe(251);
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 4_000)).toBe(6000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }))).toBeNull();
    expect(retryAfterMs(undefined)).toBeNull();
  });
});
