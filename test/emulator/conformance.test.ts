import type OpenAI from 'openai';
import type {
  Response,
  ResponseFunctionToolCall,
  ResponseInputItem,
  ResponseStreamEvent,
} from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryShop, createShopTools } from '../../src/demo/shop/index.js';
import { createScriptedBrain } from '../../src/emulator/index.js';
import { toolSpec } from '../../src/tools/define-tool.js';
import { startHarness, type Harness, type SchemaName } from './harness.js';
import { loadSpec, type SpecValidators } from './spec.js';
import { openWebSocket } from './ws-client.js';

/**
 * The conformance corpus: requests of every kind the emulator serves — text, pictures, files,
 * tools under each `tool_choice`, parallel calls, streaming, background, compaction and the
 * WebSocket mode — through the official SDK (and a WebSocket client), with every body and every
 * event checked against the official OpenAPI spec and against the Open Responses requirements
 * (test/emulator/open-responses.ts; the whole Open Responses schema too when
 * GRAFT_OPEN_RESPONSES_SCHEMA names a local copy). Not one may be invalid.
 */

let spec: SpecValidators;
let main: Harness;
let slow: Harness;
let client: OpenAI;

const MODEL = 'gpt-4o-mini';
const SHOP_TOOLS = createShopTools(createMemoryShop()).map((tool) => ({
  ...toolSpec(tool),
  type: 'function' as const,
}));
const WEATHER = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'The weather in a city',
  strict: true,
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string', minLength: 2 },
      unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    },
    required: ['city', 'unit'],
    additionalProperties: false,
  },
};
const TIME = {
  type: 'function' as const,
  name: 'get_local_time',
  description: 'The local time in a city',
  strict: false,
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const PDF =
  'data:application/pdf;base64,JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCg==';

beforeAll(async () => {
  spec = loadSpec();
  main = await startHarness(spec);
  client = main.client;
  slow = await startHarness(spec, {
    brain: createScriptedBrain([[{ type: 'message', text: 'Slowly.' }]]),
    latency: { ttftMs: 2_000, perTokenMs: 10 },
  });
});

afterAll(async () => {
  const violations = [...(await main.stop()), ...(await slow.stop())];
  const figures: Record<SchemaName, string> = { official: '', openResponses: '', openResponsesSchema: '' };
  for (const schema of Object.keys(figures) as SchemaName[]) {
    const checked = main.conformance.checked[schema] + slow.conformance.checked[schema];
    const invalid = main.conformance.invalid[schema] + slow.conformance.invalid[schema];
    figures[schema] = `${invalid} invalid of ${checked}`;
  }
  const counts = main.conformance.counts;
  console.log(
    `conformance corpus: ${counts.responses} responses, ${counts.events} events, ${counts.compactions} compactions, ${counts.lists} lists, ${counts.errors} errors; ` +
      `official spec ${figures.official}; Open Responses requirements ${figures.openResponses}` +
      (process.env.GRAFT_OPEN_RESPONSES_SCHEMA
        ? `; Open Responses schema ${figures.openResponsesSchema}`
        : ''),
  );
  expect(violations).toEqual([]);
  expect(counts.compactions).toBeGreaterThan(0);
});

async function events(stream: AsyncIterable<ResponseStreamEvent>): Promise<ResponseStreamEvent[]> {
  const all: ResponseStreamEvent[] = [];
  for await (const event of stream) all.push(event);
  return all;
}

const calls = (response: Response) =>
  response.output.filter((item): item is ResponseFunctionToolCall => item.type === 'function_call');

describe('text, and every documented field echoed', () => {
  it('answers a plain request, echoing user, safety_identifier, prompt_cache_key and the sampling fields', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: 'Hello!',
      user: 'user-1234',
      safety_identifier: 'safe-1',
      prompt_cache_key: 'cache-1',
      prompt_cache_retention: '24h',
      temperature: 0.5,
      top_p: 0.9,
      top_logprobs: 3,
      service_tier: 'auto',
      truncation: 'auto',
      text: { verbosity: 'low' },
      metadata: { case: 'text' },
      // The penalties are Open Responses' (the official create body lacks them); this SDK lacks max_tool_calls.
      ...({ presence_penalty: 0.25, frequency_penalty: -0.5, max_tool_calls: 4 } as object),
    });
    expect(response).toMatchObject({
      status: 'completed',
      user: 'user-1234',
      safety_identifier: 'safe-1',
      prompt_cache_key: 'cache-1',
      prompt_cache_retention: '24h',
      temperature: 0.5,
      top_p: 0.9,
      top_logprobs: 3,
      service_tier: 'default',
      truncation: 'auto',
      text: { format: { type: 'text' }, verbosity: 'low' },
      presence_penalty: 0.25,
      frequency_penalty: -0.5,
    });
    expect(response.output_text).toContain('Happy to help!');
  });

  it('streams a message with usage on every snapshot, and a reasoning model with its summary setting', async () => {
    const all = await events(
      await client.responses.create({
        model: 'gpt-5-mini',
        input: 'Hi there',
        reasoning: { effort: 'low', summary: 'auto' },
        stream: true,
      }),
    );
    const snapshots = all.filter((e) => 'response' in e) as { response: Response }[];
    expect(snapshots.map((e) => e.response.usage)).not.toContain(undefined);
    expect(snapshots.at(-1)!.response.reasoning).toEqual({ effort: 'low', summary: 'auto' });
  });
});

describe('pictures and files', () => {
  it('accepts pictures by URL, data URL and file id, lists them, and the clerk says it cannot look at them', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is in these?' },
            { type: 'input_image', image_url: 'https://example.com/pizza.jpg', detail: 'low' },
            { type: 'input_image', image_url: PNG, detail: 'high' },
            { type: 'input_image', file_id: 'file-abc123', detail: 'auto' },
          ],
        },
      ],
    });
    expect(response.output_text).toContain("I can't look at pictures");
    const items = await client.responses.inputItems.list(response.id);
    const content = (items.data[0] as { content: unknown[] }).content;
    expect(content).toEqual([
      { type: 'input_text', text: 'What is in these?' },
      { type: 'input_image', image_url: 'https://example.com/pizza.jpg', detail: 'low' },
      { type: 'input_image', image_url: PNG, detail: 'high' },
      { type: 'input_image', image_url: null, file_id: 'file-abc123', detail: 'auto' },
    ]);
    // Three pictures are billed: 85 tokens for the low-detail one, 765 for each of the others.
    expect(response.usage!.input_tokens).toBeGreaterThan(85 + 765 * 2);
  });

  it('accepts files by data, URL and id, and pictures in a function call output', async () => {
    const first = await client.responses.create({
      model: MODEL,
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_file', filename: 'menu.pdf', file_data: PDF },
            { type: 'input_file', file_url: 'https://example.com/menu.pdf' },
            { type: 'input_file', file_id: 'file-xyz' },
            { type: 'input_text', text: 'I would like 2 pizzas' },
          ],
        },
      ],
      tools: SHOP_TOOLS,
    });
    expect(calls(first).map((c) => c.name)).toEqual(['create_order']);
    const answer: ResponseInputItem = {
      type: 'function_call_output',
      call_id: calls(first)[0]!.call_id,
      output: [
        {
          type: 'input_text',
          text: '{"order_id":"ord_1","status":"confirmed","items":[{"product":"pizza","quantity":2}]}',
        },
        { type: 'input_image', image_url: PNG, detail: 'low' },
      ],
    };
    const second = await client.responses.create({
      model: MODEL,
      previous_response_id: first.id,
      input: [answer],
      tools: SHOP_TOOLS,
    });
    expect(second.output_text).toContain("I can't look at files");
    expect(second.output_text).toContain('ord_1');
    await client.responses.inputItems.list(second.id, { order: 'asc' });
  });

  it('refuses a picture that is not a URL, or a data URL of another type', async () => {
    for (const image_url of ['not a url', 'data:text/plain;base64,aGk=']) {
      await expect(
        client.responses.create({
          model: MODEL,
          input: [{ role: 'user', content: [{ type: 'input_image', image_url, detail: 'auto' }] }],
        }),
      ).rejects.toMatchObject({ status: 400, param: 'input[0].content[0].image_url' });
    }
  });
});

describe('tools under each tool_choice', () => {
  const order = "I'd like 2 pizzas";

  it('none: answers in words', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: order,
      tools: SHOP_TOOLS,
      tool_choice: 'none',
    });
    expect(calls(response)).toEqual([]);
    expect(response.tool_choice).toBe('none');
  });

  it('auto: the clerk calls the shop', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: order,
      tools: SHOP_TOOLS,
      tool_choice: 'auto',
    });
    expect(calls(response).map((c) => c.name)).toEqual(['create_order']);
  });

  it('required: a call even for a greeting', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: 'Hello',
      tools: SHOP_TOOLS,
      tool_choice: 'required',
    });
    expect(calls(response)).toHaveLength(1);
  });

  it('a named function: that function, even when the clerk would call another', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: order,
      tools: SHOP_TOOLS,
      tool_choice: { type: 'function', name: 'list_products' },
    });
    expect(calls(response).map((c) => c.name)).toEqual(['list_products']);
  });

  it('allowed tools: only those, in auto and required mode', async () => {
    const auto = await client.responses.create({
      model: MODEL,
      input: order,
      tools: SHOP_TOOLS,
      tool_choice: { type: 'allowed_tools', mode: 'auto', tools: [{ type: 'function', name: 'get_order' }] },
    });
    expect(calls(auto)).toEqual([]);
    const required = await client.responses.create({
      model: MODEL,
      input: order,
      tools: SHOP_TOOLS,
      tool_choice: {
        type: 'allowed_tools',
        mode: 'required',
        tools: [{ type: 'function', name: 'get_order' }],
      },
      stream: true,
    });
    const done = (await events(required)).find((e) => e.type === 'response.completed') as {
      response: Response;
    };
    expect(calls(done.response).map((c) => c.name)).toEqual(['get_order']);
    expect(done.response.tool_choice).toEqual({
      type: 'allowed_tools',
      mode: 'required',
      tools: [{ type: 'function', name: 'get_order' }],
    });
  });

  it("calls anybody's tools with arguments valid against their schema, then reports the result", async () => {
    const first = await client.responses.create({
      model: MODEL,
      input: 'What is the weather in Paris?',
      tools: [WEATHER],
    });
    const [call] = calls(first);
    expect(call!.name).toBe('get_weather');
    expect(JSON.parse(call!.arguments)).toEqual({ city: 'Paris', unit: 'celsius' });
    const second = await client.responses.create({
      model: MODEL,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call!.call_id, output: '{"temperature":21}' }],
      tools: [WEATHER],
    });
    expect(second.output_text).toContain('get_weather returned {"temperature":21}');
  });
});

describe('parallel calls', () => {
  it('cancels an order and places a new one in one response, streamed', async () => {
    const first = await client.responses.create({
      model: MODEL,
      input: "I'd like 2 pizzas",
      tools: SHOP_TOOLS,
    });
    const created = {
      type: 'function_call_output' as const,
      call_id: calls(first)[0]!.call_id,
      output: '{"order_id":"ord_1","status":"confirmed","items":[{"product":"pizza","quantity":2}]}',
    };
    const reply = await client.responses.create({
      model: MODEL,
      previous_response_id: first.id,
      input: [created],
      tools: SHOP_TOOLS,
    });
    const stream = await client.responses.create({
      model: MODEL,
      previous_response_id: reply.id,
      input: 'Cancel ord_1 and order 3 colas instead',
      tools: SHOP_TOOLS,
      stream: true,
    });
    const done = (await events(stream)).find((e) => e.type === 'response.completed') as {
      response: Response;
    };
    expect(calls(done.response).map((c) => [c.name, JSON.parse(c.arguments) as unknown])).toEqual([
      ['cancel_order', { order_id: 'ord_1' }],
      ['create_order', { items: [{ product: 'cola', quantity: 3 }] }],
    ]);
    const [cancel, create] = calls(done.response);
    const outputs = [
      {
        type: 'function_call_output' as const,
        call_id: cancel!.call_id,
        output: '{"order_id":"ord_1","status":"cancelled","items":[{"product":"pizza","quantity":2}]}',
      },
      {
        type: 'function_call_output' as const,
        call_id: create!.call_id,
        output: '{"order_id":"ord_2","status":"confirmed","items":[{"product":"cola","quantity":3}]}',
      },
    ];
    const after = await client.responses.create({
      model: MODEL,
      previous_response_id: done.response.id,
      input: outputs,
      tools: SHOP_TOOLS,
    });
    expect(after.output_text).toBe(
      'Your order ord_1 is cancelled, and your new order ord_2 is confirmed: 3 colas. Anything else I can get you?',
    );
  });

  it('calls several unknown tools at once, and only the first with parallel_tool_calls false', async () => {
    const input = 'What is the weather and the local time in Rome?';
    const parallel = await client.responses.create({ model: MODEL, input, tools: [WEATHER, TIME] });
    expect(calls(parallel).map((c) => c.name)).toEqual(['get_weather', 'get_local_time']);
    const single = await client.responses.create({
      model: MODEL,
      input,
      tools: [WEATHER, TIME],
      parallel_tool_calls: false,
    });
    expect(calls(single).map((c) => c.name)).toEqual(['get_weather']);
  });
});

describe('background', () => {
  it('re-streams a background response, and refuses to cancel it once completed', async () => {
    const stream = await client.responses.create({
      model: MODEL,
      input: 'Hello',
      background: true,
      stream: true,
    });
    const first = await events(stream);
    const id = (first[0] as { response: Response }).response.id;
    const replay = await client.responses.retrieve(id, { stream: true, starting_after: 2 });
    const again = await events(replay);
    expect(again[0]!.sequence_number).toBe(3);
    await expect(client.responses.cancel(id)).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('Cannot cancel a completed response.'),
    });
  });

  it('cancels a background response in progress', async () => {
    const created = await slow.client.responses.create({ model: MODEL, input: 'Work', background: true });
    expect(created.status).toBe('queued');
    expect((await slow.client.responses.cancel(created.id)).status).toBe('cancelled');
    expect((await slow.client.responses.retrieve(created.id)).status).toBe('cancelled');
  });
});

describe('compaction', () => {
  it('compacts a chain into its user messages and one compaction item, which a later request can continue from', async () => {
    const first = await client.responses.create({
      model: MODEL,
      input: "I'd like 2 pizzas",
      tools: SHOP_TOOLS,
    });
    const created = {
      type: 'function_call_output' as const,
      call_id: calls(first)[0]!.call_id,
      output: '{"order_id":"ord_7","status":"confirmed","items":[{"product":"pizza","quantity":2}]}',
    };
    const reply = await client.responses.create({
      model: MODEL,
      previous_response_id: first.id,
      input: [created],
      tools: SHOP_TOOLS,
    });
    const compacted = await client.responses.compact({ model: MODEL, previous_response_id: reply.id });
    expect(compacted.object).toBe('response.compaction');
    expect(compacted.output.map((item) => item.type)).toEqual(['message', 'compaction']);
    expect(compacted.usage.output_tokens).toBeLessThan(compacted.usage.input_tokens);
    // Stateless from here: the compacted window, then the new message.
    const next = await client.responses.create({
      model: MODEL,
      input: [...(compacted.output as ResponseInputItem[]), { role: 'user', content: 'Add a cola' }],
      tools: SHOP_TOOLS,
      store: false,
    });
    expect(calls(next).map((c) => [c.name, JSON.parse(c.arguments) as unknown])).toEqual([
      [
        'update_order',
        {
          order_id: 'ord_7',
          items: [
            { product: 'cola', quantity: 1 },
            { product: 'pizza', quantity: 2 },
          ],
        },
      ],
    ]);
    // A compaction item the emulator did not issue is refused.
    await expect(
      client.responses.create({ model: MODEL, input: [{ type: 'compaction', encrypted_content: 'forged' }] }),
    ).rejects.toMatchObject({ status: 400, code: 'invalid_encrypted_content' });
  });
});

describe('the WebSocket mode', () => {
  const wsUrl = () => main.url.replace(/^http/, 'ws') + '/responses';

  it('streams responses over one connection, chains store:false responses, runs lanes, warms up, and reports errors', async () => {
    const ws = await openWebSocket(wsUrl(), { Authorization: 'Bearer test-key' });
    expect(ws.status).toBe(101);
    const check = (messages: Record<string, unknown>[]) => {
      for (const message of messages) main.checker.event('websocket', message, true);
      return messages;
    };
    ws.send({
      type: 'response.create',
      model: MODEL,
      store: false,
      input: "I'd like 2 pizzas",
      tools: SHOP_TOOLS,
    });
    const first = check(await ws.until((m) => m.type === 'response.completed'));
    const firstResponse = first.at(-1)!.response as Response;
    expect(calls(firstResponse).map((c) => c.name)).toEqual(['create_order']);
    ws.send({
      type: 'response.create',
      model: MODEL,
      store: false,
      previous_response_id: firstResponse.id,
      input: [
        {
          type: 'function_call_output',
          call_id: calls(firstResponse)[0]!.call_id,
          output: '{"order_id":"ord_3","status":"confirmed","items":[{"product":"pizza","quantity":2}]}',
        },
      ],
      tools: SHOP_TOOLS,
    });
    const second = check(await ws.until((m) => m.type === 'response.completed'));
    expect(JSON.stringify((second.at(-1)!.response as Response).output)).toContain('ord_3');
    // A warm-up answers with no output; two lanes each echo their stream_id.
    ws.send({ type: 'response.create', model: MODEL, input: 'Hi', generate: false, stream_id: 'warm' });
    const warm = check(await ws.until((m) => m.type === 'response.completed'));
    expect(warm.every((m) => m.stream_id === 'warm')).toBe(true);
    expect((warm.at(-1)!.response as Response).output).toEqual([]);
    ws.send({ type: 'response.create', model: MODEL, input: 'Hello', stream_id: 'a' });
    ws.send({ type: 'response.create', model: MODEL, input: 'Hello', stream_id: 'b' });
    const lanes = check(await ws.until((m) => m.type === 'response.completed' && m.stream_id === 'b'));
    expect(new Set(lanes.map((m) => m.stream_id))).toEqual(new Set(['a', 'b']));
    // Errors: background is not supported, an unknown event type, a store:false parent from elsewhere.
    ws.send({ type: 'response.create', model: MODEL, input: 'Hi', background: true });
    ws.send({ type: 'response.cancel' });
    ws.send({ type: 'response.create', model: MODEL, input: 'Hi', previous_response_id: 'resp_unknown' });
    const errors = check(
      await ws.until(
        (m) => m.type === 'error' && (m.error as { code: string }).code === 'previous_response_not_found',
      ),
    );
    expect(errors.filter((m) => m.type === 'error').map((m) => m.status)).toEqual([400, 400, 400]);
    ws.close();
    expect(await ws.closed).toBeGreaterThan(0);
  });

  it('reports a failure mid-stream as the stream error event, with a status', async () => {
    const faulty = await startHarness(spec, { faults: { midStreamErrorRate: 1 } });
    try {
      const ws = await openWebSocket(faulty.url.replace(/^http/, 'ws') + '/responses', {
        Authorization: 'Bearer test-key',
      });
      ws.send({ type: 'response.create', model: MODEL, input: 'Hello', stream_id: 'lane' });
      const messages = await ws.until((m) => m.type === 'response.failed');
      for (const message of messages) faulty.checker.event('websocket', message, true);
      expect(messages.find((m) => m.type === 'error')).toMatchObject({ status: 500, stream_id: 'lane' });
      ws.close();
    } finally {
      expect(await faulty.stop()).toEqual([]);
    }
  });

  it('refuses an upgrade without the API key when one is required, and closes at the connection limit', async () => {
    const guarded = await startHarness(spec, { apiKey: 'sk-local', webSocketLimitMs: 200 });
    try {
      const url = guarded.url.replace(/^http/, 'ws') + '/responses';
      const refused = await openWebSocket(url);
      expect(refused.status).toBe(401);
      const ws = await openWebSocket(url, { Authorization: 'Bearer sk-local' });
      const limit = await ws.next(2_000);
      guarded.checker.event('websocket', limit, true);
      expect(limit).toMatchObject({ type: 'error', error: { code: 'websocket_connection_limit_reached' } });
      expect(await ws.closed).toBe(1000);
    } finally {
      expect(await guarded.stop()).toEqual([]);
    }
  });
});
