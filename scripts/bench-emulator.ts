/**
 * `npm run bench:emulator`: measures the Responses API emulator at zero latency and records the
 * figures in BENCHMARKS.md (only between its own markers, so other benchmarks' sections stay).
 *
 * - non-streaming creates per second: POST /v1/responses with a fixed one-message brain, over
 *   keep-alive connections, sequentially and 8 at a time;
 * - time per streamed event: long streamed responses, from the request to the last event,
 *   divided by the number of events.
 *
 * Every loop is bounded in count and in time, and only 127.0.0.1 is contacted.
 */
import { recordSection } from './benchmarks-file.js';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createEmulator } from '../src/emulator/index.js';

const CREATES = 4_000;
const STREAMS = 20;
const STREAM_WORDS = 2_000;
const TIME_LIMIT_MS = 20_000;
const BODY = JSON.stringify({ model: 'gpt-4o-mini', input: 'I would like two pizzas and a cola, please.' });
const REPLY = 'Thanks! Two pizzas and a cola are on their way; your order number is 1234.';

async function createOnce(url: string): Promise<void> {
  const res = await fetch(`${url}/responses`, {
    method: 'POST',
    body: BODY,
    headers: { 'content-type': 'application/json' },
  });
  if (res.status !== 200) throw new Error(`create answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

/** Runs `total` creates with `concurrency` in flight; returns creates per second. */
async function createsPerSecond(url: string, total: number, concurrency: number): Promise<number> {
  let next = 0;
  const deadline = performance.now() + TIME_LIMIT_MS;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < total && performance.now() < deadline) {
      next++;
      await createOnce(url);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return next / ((performance.now() - started) / 1000);
}

/** Streams long responses; returns the median microseconds per event and the events per stream. */
async function microsPerEvent(url: string): Promise<{ micros: number; events: number }> {
  const body = JSON.stringify({ model: 'gpt-4o-mini', input: 'Tell me everything.', stream: true });
  const samples: number[] = [];
  let events = 0;
  const deadline = performance.now() + TIME_LIMIT_MS;
  for (let i = 0; i < STREAMS && performance.now() < deadline; i++) {
    const started = performance.now();
    const res = await fetch(`${url}/responses`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    const text = await res.text();
    events = text.split('\n\n').filter((block) => block.startsWith('event: ')).length;
    samples.push(((performance.now() - started) * 1000) / events);
  }
  samples.sort((a, b) => a - b);
  return { micros: samples[Math.floor(samples.length / 2)] ?? Number.NaN, events };
}

function record(section: string): void {
  recordSection('emulator', section);
}

async function main(): Promise<void> {
  const long = Array.from({ length: STREAM_WORDS }, (_, i) => `word${i % 100}`).join(' ');
  const short = createEmulator({ brain: () => [{ type: 'message', text: REPLY }], latency: 'zero', seed: 1 });
  const listening = await short.listen(0, '127.0.0.1');
  await createsPerSecond(listening.url, 200, 4); // warm-up
  const sequential = await createsPerSecond(listening.url, CREATES, 1);
  const parallel = await createsPerSecond(listening.url, CREATES, 8);
  await listening.close();
  const streaming = createEmulator({
    brain: () => [{ type: 'message', text: long }],
    latency: 'zero',
    seed: 1,
  });
  const streamListening = await streaming.listen(0, '127.0.0.1');
  const stream = await microsPerEvent(streamListening.url);
  await streamListening.close();
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}`;
  const section = [
    '## Responses API emulator (`npm run bench:emulator`)',
    '',
    `Zero latency, a fixed one-message brain, \`fetch\` over keep-alive on 127.0.0.1; ${machine}; ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| non-streaming creates per second, 1 in flight | ${sequential.toFixed(0)} |`,
    `| non-streaming creates per second, 8 in flight | ${parallel.toFixed(0)} |`,
    `| time per streamed event (median of ${STREAMS} streams of ${stream.events} events) | ${stream.micros.toFixed(1)} µs |`,
  ].join('\n');
  console.log(section);
  record(section);
}

await main();
