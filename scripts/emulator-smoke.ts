/**
 * The emulator's acceptance check, with the official SDK against a running `graft emulator`:
 * two children of one response, one of them streamed, and the exact pairing errors.
 *
 *   npx graft emulator --port 8790 &   then   npx tsx scripts/emulator-smoke.ts [baseURL]
 */
import OpenAI from 'openai';

const baseURL = process.argv[2] ?? 'http://127.0.0.1:8790/v1';
const client = new OpenAI({ apiKey: process.env.EMULATOR_API_KEY ?? 'unused', baseURL, maxRetries: 0 });
const tools = [
  {
    type: 'function' as const,
    name: 'create_order',
    description: 'Create an order',
    parameters: {
      type: 'object',
      properties: { items: { type: 'array', items: { type: 'object' } } },
      required: ['items'],
    },
    strict: false,
  },
];

async function expectError(what: string, run: () => Promise<unknown>, message: string): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (error instanceof OpenAI.BadRequestError && error.message.includes(message)) {
      console.log(`ok   ${what}: ${error.status} ${JSON.stringify(error.message)}`);
      return;
    }
    throw new Error(`${what}: expected BadRequestError "${message}", got ${String(error)}`);
  }
  throw new Error(`${what}: expected an error`);
}

const parent = await client.responses.create({ model: 'gpt-4.1-mini', input: 'Hello!', tools });
console.log(`ok   parent ${parent.id}: ${parent.output_text}`);
const first = await client.responses.create({
  model: 'gpt-4.1-mini',
  previous_response_id: parent.id,
  input: "I'd like 2 pizzas.",
  tools,
});
const call = first.output.find((item) => item.type === 'function_call');
console.log(`ok   child 1 ${first.id}: ${call ? `${call.name}(${call.arguments})` : first.output_text}`);
const stream = await client.responses.create({
  model: 'gpt-4.1-mini',
  previous_response_id: parent.id,
  input: 'Thanks!',
  tools,
  stream: true,
});
let events = 0;
let completed = '';
for await (const event of stream) {
  events += 1;
  if (event.type === 'response.completed') completed = event.response.id;
}
console.log(`ok   child 2 ${completed} streamed in ${events} events, same parent`);
if (call && call.type === 'function_call') {
  await expectError(
    'new input while a call is unanswered',
    () => client.responses.create({ model: 'gpt-4.1-mini', previous_response_id: first.id, input: 'hello?' }),
    `No tool output found for function call ${call.call_id}.`,
  );
}
await expectError(
  'an output for no call',
  () =>
    client.responses.create({
      model: 'gpt-4.1-mini',
      previous_response_id: parent.id,
      input: [{ type: 'function_call_output', call_id: 'call_nope', output: '{}' }],
    }),
  'No tool call found for function call output with call_id call_nope.',
);
console.log('emulator smoke check passed');
