/**
 * `npm run bench:dashboard`: the web dashboard in headless Chromium (Debian's, driven by
 * playwright-core), against the demo on 127.0.0.1 (the emulator at zero latency, tools at 0 ms, no
 * rate limit), recorded in BENCHMARKS.md between its own markers.
 *
 * - render: the time from opening a conversation of 50 turns and 200 model calls (a log of 1,000
 *   events, test/dashboard/long-conversation.ts, put in the demo's store) in the list to the frame
 *   after its 50th branch tree is in the page; the page's own clock (performance.now), 12 runs,
 *   the first one reported apart (cold).
 * - event to screen: a customer message POSTed to the service; the delay from the
 *   `message.received` event's time (`at`, the service's clock) to the frame after the message
 *   shows in the open conversation's transcript, and in the list (the browser's Date.now: one
 *   machine, one clock). In a small conversation and in the long one (which is read whole again
 *   on every event).
 */
import { cpus } from 'node:os';
import type { Page } from 'playwright-core';
import { startDemo } from '../src/cli/demo-command.js';
import { conversationKey } from '../src/core/ports.js';
import type { ConversationView } from '../src/server/view.js';
import { chromiumMissing, freshBundle, launchChromium, signIn } from '../test/dashboard/harness.js';
import { longConversationLog } from '../test/dashboard/long-conversation.js';
import { quantile, recordSection } from './benchmarks-file.js';

const RENDER_RUNS = 12;
const SMALL_MESSAGES = 20;
const LONG_MESSAGES = 10;

const missing = chromiumMissing();
if (missing) throw new Error(missing);

const ms = (value: number): string => `${value.toFixed(0)} ms`;
const stats = (values: number[]) =>
  `${ms(quantile(values, 0.5))} / ${ms(quantile(values, 0.9))} / ${ms(Math.max(...values))}`;
const sleep = (delayMs: number) => new Promise((resolve) => setTimeout(resolve, delayMs));

/** Watches the page: when each message first shows in the transcript and in the list (at the next frame). */
const WATCH = `(() => {
  window.__transcript = {};
  window.__list = {};
  const stamp = (map, key) => {
    if (key in map) return;
    map[key] = -1;
    requestAnimationFrame(() => (map[key] = Date.now()));
  };
  new MutationObserver(() => {
    for (const el of document.querySelectorAll('[data-message]')) stamp(window.__transcript, el.querySelector('.text')?.textContent ?? '');
    for (const el of document.querySelectorAll('nav .last')) stamp(window.__list, el.textContent ?? '');
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
})()`;

async function renderTimes(page: Page): Promise<number[]> {
  const times: number[] = [];
  for (let run = 0; run < RENDER_RUNS; run += 1) {
    await page.evaluate("location.hash = '#/'");
    await page.locator('section.empty').waitFor();
    const took = await page.evaluate<number>(`new Promise((resolve) => {
      const started = performance.now();
      location.hash = '#/c/long';
      const check = () => {
        if (document.querySelector('section.turn[data-turn="50"]')) requestAnimationFrame(() => resolve(performance.now() - started));
        else requestAnimationFrame(check);
      };
      check();
    })`);
    times.push(took);
  }
  return times;
}

/** Sends `count` messages to `conversation`, 600 ms apart; the delays to the transcript and the list. */
async function eventDelays(page: Page, url: string, conversation: string, count: number) {
  const transcript: number[] = [];
  const list: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const text = `Do you have fries? (${conversation} ${i})`;
    const res = await fetch(`${url}/v1/conversations/${conversation}/messages`, {
      method: 'POST',
      headers: { authorization: 'Bearer demo', 'content-type': 'application/json' },
      body: JSON.stringify({ id: `bench-${conversation}-${i}`, text }),
    });
    if (res.status !== 202) throw new Error(`POST answered ${res.status}`);
    let seen: [number, number] = [-1, -1];
    for (let tries = 0; tries < 400 && (seen[0] <= 0 || seen[1] <= 0); tries += 1) {
      await sleep(10);
      seen = await page.evaluate<[number, number]>(
        `[window.__transcript[${JSON.stringify(text)}] ?? -1, Object.entries(window.__list).find(([k]) => k.includes(${JSON.stringify(text)}))?.[1] ?? -1]`,
      );
    }
    const view = (await (
      await fetch(`${url}/v1/conversations/${conversation}`, { headers: { authorization: 'Bearer demo' } })
    ).json()) as ConversationView;
    const at = Date.parse(view.messages.find((m) => m.id === `bench-${conversation}-${i}`)!.receivedAt);
    if (seen[0] > 0) transcript.push(seen[0] - at);
    if (seen[1] > 0) list.push(seen[1] - at);
    await sleep(600);
  }
  return { transcript, list };
}

const bundle = await freshBundle();
process.env.GRAFT_DASHBOARD_DIR = bundle.dir;
const demo = await startDemo(
  [
    ...['--port', '0', '--host', '127.0.0.1', '--store', 'memory', '--latency', 'zero'],
    ...['--tool-latency-ms', '0', '--rate-burst', '1000', '--rate-per-minute', '100000'],
  ],
  {},
);
const browser = await launchChromium();
try {
  const events = longConversationLog('long', 50, Date.now() - 50 * 30_000);
  await demo.opened.store.append(conversationKey('demo', 'long'), 0, events, { unfinished: false });
  const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
  await signIn(page, demo.url);
  await page.locator('nav [data-conversation="long"]').waitFor();
  const render = await renderTimes(page);
  const [cold, ...warm] = render;

  // A small conversation, open in the page, then the long one.
  await fetch(`${demo.url}/v1/conversations/small/messages`, {
    method: 'POST',
    headers: { authorization: 'Bearer demo', 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'bench-start', text: 'Hello!' }),
  });
  await page.evaluate("location.hash = '#/c/small'");
  await page.locator('[data-reply]').first().waitFor();
  await page.evaluate(WATCH);
  const small = await eventDelays(page, demo.url, 'small', SMALL_MESSAGES);
  await page.evaluate("location.hash = '#/c/long'");
  await page.locator('section.turn[data-turn="50"]').waitFor();
  await page.evaluate(WATCH);
  const long = await eventDelays(page, demo.url, 'long', LONG_MESSAGES);

  const date = new Date().toISOString().slice(0, 10);
  const section = [
    '## Dashboard (`npm run bench:dashboard`)',
    '',
    `Headless Chromium ${browser.version()} (Debian's, playwright-core), 1440 × 960; the demo on 127.0.0.1 (memory store, the emulator at zero latency, tools at 0 ms), the service and the browser on one machine; ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}; ${date}. The bundle: Preact and the dashboard, minified by esbuild.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| render a conversation of 50 turns, 200 model calls, 100 grafts (a 1,000-event log), from opening it to the frame after its last branch tree: first time | ${ms(cold!)} |`,
    `| the same, ${warm.length} more times (p50 / p90 / max) | ${stats(warm)} |`,
    `| event to screen: a message's \`message.received\` to the frame that shows it in the open conversation's transcript, small conversation, ${small.transcript.length} messages (p50 / p90 / max) | ${stats(small.transcript)} |`,
    `| the same, in the list of conversations (p50 / p90 / max) | ${stats(small.list)} |`,
    `| event to screen in the transcript of the 50-turn conversation (read whole again on each event), ${long.transcript.length} messages (p50 / p90 / max) | ${stats(long.transcript)} |`,
    '',
    "The path of an update: the event is appended, the tenant stream (`GET /v1/events`) announces the growth, the page reads `GET /v1/conversations/{id}` (or `…/summary` for the list) and Preact redraws. A view read while another is in flight is read once more after it, so a burst of events costs at most two reads in a row. (The long conversation's response ids are made up, so the emulator does not know them: graft rebuilds its first call of each new turn in stateless form, and logs a `chain-broken` warning.)",
  ].join('\n');
  recordSection('dashboard', section);
  console.log(section);
} finally {
  await browser.close();
  await demo.close();
  bundle.remove();
}
