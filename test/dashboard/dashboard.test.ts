import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../src/cli/demo-command.js';
import { chromiumMissing, freshBundle, launchChromium, longConversationService, signIn } from './harness.js';

/**
 * The web dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core),
 * against the demo over HTTP and a service holding a 50-turn conversation. Screenshots of the main
 * views go to a temporary directory, or to GRAFT_SCREENSHOT_DIR (`npm run screenshots` sets it to
 * docs/screenshots). Outside CI a machine without Chromium skips these tests with a notice; under
 * CI=true it fails them.
 */
const missing = chromiumMissing();
const ci = process.env.CI === 'true';
if (missing && !ci) console.warn(`NOTICE: the dashboard's browser tests are skipped: ${missing}`);

const shots = process.env.GRAFT_SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), 'graft-screenshots-'));
mkdirSync(shots, { recursive: true });
const shot = (page: Page, name: string, fullPage = false) =>
  page.screenshot({ path: join(shots, `${name}.png`), fullPage });

describe.skipIf(missing !== null && !ci)('the dashboard in Chromium', () => {
  let browser: Browser;
  let bundle: Awaited<ReturnType<typeof freshBundle>>;
  let demo: Awaited<ReturnType<typeof startDemo>>;
  let long: Awaited<ReturnType<typeof longConversationService>>;

  beforeAll(async () => {
    if (missing) throw new Error(`CI=true: the dashboard's browser tests need Chromium. ${missing}`);
    bundle = await freshBundle();
    // The demo serves this bundle (the repository's dist/ may be stale or missing).
    process.env.GRAFT_DASHBOARD_DIR = bundle.dir;
    // Tools that take 1.5 s: a burst with a 1 s gap lands while the first order is being written.
    demo = await startDemo(
      ['--port', '0', '--host', '127.0.0.1', '--store', 'memory', '--tool-latency-ms', '1500'],
      {},
    );
    long = await longConversationService(bundle.dir);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
    await long?.close();
    bundle?.remove();
    if (!process.env.GRAFT_SCREENSHOT_DIR) rmSync(shots, { recursive: true, force: true });
  });

  it('refuses a wrong key at sign-in and keeps the key in session storage only', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${demo.url}/`);
    await shot(page, 'sign-in');
    await page.getByLabel('API key').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(page.getByRole('alert').filter({ hasText: 'not valid' }), 'That API key is not valid.');
    await page.getByLabel('API key').fill('demo');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Live', { exact: true }).waitFor();
    expect(await page.evaluate("[sessionStorage.getItem('graft.apiKey'), localStorage.length]")).toEqual([
      'demo',
      0,
    ]);
    await page.close();
  });

  it('sends a burst from the composer and shows it branch live: the conversation, a superseded attempt, a graft, one order', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await signIn(page, demo.url);
    await page.evaluate('window.notReloaded = true');
    await page.getByRole('link', { name: 'New', exact: true }).click();
    await page.getByLabel('Conversation id').fill('race-1');
    await page.getByLabel('Burst').check();
    await page.getByLabel('Gap (ms)').fill('1000');
    await page
      .getByLabel('Messages, one per line')
      .fill("I'd like 2 pizzas.\nAdd a cola.\nPlease add a salad.");
    await page.getByRole('button', { name: 'Send burst' }).click();
    // The list shows the new conversation, and the page moves to it.
    await page.locator('nav [data-conversation="race-1"]').waitFor({ timeout: 10_000 });
    await page.getByRole('heading', { name: 'Conversation race-1' }).waitFor();
    // The race, live: the first attempt superseded, its running order grafted into a later call.
    await page.locator('[data-attempt-status="superseded"]').first().waitFor({ timeout: 15_000 });
    await page.locator('[data-graft]').first().waitFor({ timeout: 15_000 });
    await page.locator('[data-reply]').first().waitFor({ timeout: 30_000 });
    await page.locator('[data-order]').first().waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-order]').count()).toBe(1);
    const response = await fetch(`${demo.url}/v1/demo/orders`, { headers: { authorization: 'Bearer demo' } });
    const { orders } = (await response.json()) as { orders: { conversationId: string }[] };
    expect(orders.filter((o) => o.conversationId === 'race-1')).toHaveLength(1);
    expect(await page.locator('[data-reply]').count()).toBe(1);
    // Every message of the burst is in the transcript, and the list says what happened.
    expect(await page.locator('[data-message]').count()).toBe(3);
    await expectText(page.locator('nav [data-conversation="race-1"]'), '3 messages');
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    await shot(page, 'conversation', true);
    // A graft opens its detail: which call was told what.
    await page.locator('[data-graft]').first().click();
    await page.getByRole('heading', { name: /^Graft of eff_/ }).waitFor();
    await shot(page, 'graft-detail');
    // A model call's detail shows its input items and tokens.
    await page.locator('[data-call-outcome="responded"]').first().click();
    await page.getByRole('heading', { name: /Input items/ }).waitFor();
    await expectText(page.locator('aside.detail'), 'Tokens');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lets a person approve a cancellation, take the conversation over, reply as the operator and release it', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
    await signIn(page, demo.url);
    await page.locator('nav [data-conversation="race-1"]').click();
    await page.getByLabel('Message as the customer').fill('Please cancel my order.');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    // The bot asks a colleague: the request waits in the page, and the list says so.
    const approvals = page.getByRole('region', { name: 'Waiting for approval' });
    await approvals.getByRole('button', { name: 'Approve' }).waitFor({ timeout: 20_000 });
    await page
      .locator('.bubble.reply')
      .filter({ hasText: 'colleague needs to confirm' })
      .waitFor({ timeout: 20_000 });
    await expectText(page.locator('nav [data-conversation="race-1"]'), 'waits for approval');
    await shot(page, 'approval');
    await approvals.getByRole('button', { name: 'Approve' }).click();
    await page.locator('[data-order]').filter({ hasText: 'cancelled' }).waitFor({ timeout: 20_000 });
    // The customer is told, in a follow-up.
    await page
      .locator('.bubble.kind-follow-up')
      .filter({ hasText: 'cancelled' })
      .waitFor({ timeout: 20_000 });
    // A takeover: the composer sends a person's reply, shown as theirs; then the bot has it back.
    await page.getByRole('button', { name: 'Take over as operator' }).click();
    await page.getByRole('button', { name: 'Release to the bot' }).waitFor();
    await expectText(page.locator('nav [data-conversation="race-1"]'), 'waits for person');
    await page.getByLabel('the operator (a person').check();
    await page.getByLabel('Reply as the operator').fill('Hello, this is Ana from the shop.');
    await page.getByRole('button', { name: 'Send reply' }).click();
    await expectText(page.locator('.bubble.kind-operator'), 'Hello, this is Ana from the shop.');
    await page.getByRole('button', { name: 'Release to the bot' }).click();
    await page.getByRole('button', { name: 'Take over as operator' }).waitFor();
    await page.close();
  });

  it('renders a conversation of 50 turns and 200 model calls', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
    await signIn(page, long.url);
    const started = Date.now();
    await page.locator('nav [data-conversation="long"]').click();
    await page.locator('section.turn[data-turn="50"]').waitFor({ timeout: 20_000 });
    const tookMs = Date.now() - started;
    expect(await page.locator('section.turn').count()).toBe(50);
    expect(await page.locator('[data-call]').count()).toBe(200);
    expect(await page.locator('[data-graft]').count()).toBe(100);
    expect(await page.locator('[data-tool-kind="refused"]').count()).toBe(50);
    expect(await page.locator('[data-call-reason="rebase"]').count()).toBe(50);
    expect(tookMs).toBeLessThan(15_000);
    await page.evaluate("document.getElementById('branches-heading').scrollIntoView({ block: 'start' })");
    await shot(page, 'long-conversation');
    // The rebase call of turn 1: its input answers the refused call and grafts the effect, now done.
    await page.locator('section.turn[data-turn="1"] [data-call-reason="rebase"]').click();
    await page.getByRole('heading', { name: /Input items/ }).waitFor();
    await expectText(page.locator('aside.detail .tag'), 'graft eff_');
    await expectText(page.locator('aside.detail .tag'), 'answers tc_1_b1');
    await shot(page, 'call-detail');
    await page.close();
  });

  it('works by keyboard: a call bar takes the focus, Enter opens its detail, Escape closes it and gives the focus back', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, long.url);
    await page.locator('nav [data-conversation="long"]').focus();
    await page.keyboard.press('Enter');
    const bar = page.locator('section.turn[data-turn="1"] [data-call]').first();
    await bar.waitFor();
    await bar.focus();
    expect(await bar.getAttribute('aria-label')).toMatch(/^model call call_\d+, start, responded/);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: /^Model call call_/ }).waitFor();
    expect(await page.evaluate('document.activeElement?.id')).toBe('detail-heading');
    await page.keyboard.press('Escape');
    await page.locator('aside.detail').waitFor({ state: 'detached' });
    expect(await page.evaluate("document.activeElement?.getAttribute('data-call')")).toMatch(/^call_/);
    // The transcript is a live region, and the tree has titles for screen readers.
    expect(await page.locator('[role="log"][aria-live="polite"]').count()).toBe(1);
    expect(await page.locator('svg.tree > title').count()).toBe(50);
    await page.close();
  });

  it('is usable on a phone: the list, then the conversation with a way back', async () => {
    const page = await browser.newPage({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    await signIn(page, demo.url);
    await page.locator('nav [data-conversation="race-1"]').waitFor();
    await shot(page, 'phone-list');
    await page.locator('nav [data-conversation="race-1"]').click();
    await page.getByRole('heading', { name: 'Conversation race-1' }).waitFor();
    expect(await page.locator('nav.list').isVisible()).toBe(false);
    const width = await page.evaluate('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(390);
    await shot(page, 'phone-conversation');
    await page.getByRole('link', { name: '← Conversations' }).click();
    await page.locator('nav [data-conversation="race-1"]').waitFor();
    await page.close();
  });
});

async function expectText(locator: ReturnType<Page['locator']>, text: string): Promise<void> {
  await locator.filter({ hasText: text }).first().waitFor({ timeout: 10_000 });
}
