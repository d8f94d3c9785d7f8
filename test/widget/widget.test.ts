import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../dashboard/harness.js';
import { until } from '../server/helpers.js';
import { freshWidgetBundle, widgetService } from './helpers.js';

/**
 * The web chat in a real browser (Debian's Chromium, headless, driven by playwright-core, set up
 * as for the dashboard): the chat page and the script embedded in another site's page, against a
 * service on 127.0.0.1 whose model waits at a gate the test opens. Outside CI a machine without
 * Chromium skips these tests with a notice; under CI=true it fails them.
 */
const missing = chromiumMissing();
const ci = process.env.CI === 'true';
if (missing && !ci) console.warn(`NOTICE: the web chat's browser tests are skipped: ${missing}`);

describe.skipIf(missing !== null && !ci)('the web chat in Chromium', () => {
  let browser: Browser;
  let bundle: Awaited<ReturnType<typeof freshWidgetBundle>>;
  let t: Awaited<ReturnType<typeof widgetService>>;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (missing) throw new Error(`CI=true: the web chat's browser tests need Chromium. ${missing}`);
    bundle = await freshWidgetBundle();
    // The service serves this bundle (the repository's dist/ may be stale or missing).
    process.env.GRAFT_WIDGET_DIR = bundle.dir;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    bundle?.remove();
    delete process.env.GRAFT_WIDGET_DIR;
  });
  beforeEach(async () => {
    t = await widgetService();
    page = await browser.newPage({ viewport: { width: 480, height: 720 } });
    problems.length = 0;
    page.on('pageerror', (error) => problems.push(error.message));
    // A refused style or script (the page's content security policy) is a console error.
    page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
  });
  afterEach(async () => {
    await page?.close();
    await t?.close();
  });

  const connection = (state: string) => page.locator(`[data-connection="${state}"]`).waitFor();
  const typing = () => page.locator('[data-typing]');
  const say = async (text: string) => {
    await page.getByLabel('Your message').fill(text);
    await page.getByLabel('Your message').press('Enter');
  };
  const visible = (locator: Locator) => locator.isVisible();

  it('shows typing from the first message of a burst of three until the one reply that covers them', async () => {
    await page.goto(`${t.url}/widget#token=${t.token('ana')}`);
    await connection('live');
    // The token leaves the address bar (it is kept in the tab for a reload).
    expect(new URL(page.url()).hash).toBe('');
    expect(await typing().isHidden()).toBe(true);
    await say('I want a pizza.');
    await typing().waitFor({ state: 'visible' });
    await say('And a cola.');
    await say('Make it two pizzas.');
    await until(async () => (await page.locator('[data-message-id]:not(.pending)').count()) === 3, '3 sent');
    await until(
      async () => (await t.eventsOf('web:ana')).filter((e) => e.type === 'message.received').length === 3,
      'three messages recorded',
    );
    expect(await visible(typing())).toBe(true);
    expect(await page.locator('[data-reply-id]').count()).toBe(0);
    t.gate.release();
    const reply = page.locator('[data-reply-id]');
    await reply.waitFor();
    expect(await reply.textContent()).toBe('Got: I want a pizza. / And a cola. / Make it two pizzas.');
    await typing().waitFor({ state: 'hidden' });
    await t.service.idle();
    expect(await page.locator('[data-reply-id]').count()).toBe(1);
    expect(await page.locator('[data-message-id]').count()).toBe(3);
    // graft has one reply covering the burst.
    const replies = (await t.eventsOf('web:ana')).filter((e) => e.type === 'reply.committed');
    expect(replies.map((e) => e.type === 'reply.committed' && e.covers.length)).toEqual([3]);
    expect(problems).toEqual([]);
  });

  it('reconnects after the connection dropped, resumes from the last event id, and shows the reply committed meanwhile', async () => {
    const streams: (string | null)[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/widget/v1/events'))
        streams.push(request.headers()['last-event-id'] ?? null);
    });
    await page.goto(`${t.url}/widget#token=${t.token('ben')}`);
    await connection('live');
    await say('Where is my order?');
    await typing().waitFor({ state: 'visible' });
    await page.locator('[data-message-id]:not(.pending)').waitFor();
    // The server goes away (every stream drops) and a reply is committed before it is back.
    await t.restart(async () => {
      await connection('reconnecting');
      t.gate.release();
      await until(
        async () => (await t.eventsOf('web:ben')).some((e) => e.type === 'reply.committed'),
        'the reply committed while the widget was cut off',
      );
      expect(await page.locator('[data-reply-id]').count()).toBe(0);
    });
    await connection('live');
    await page.locator('[data-reply-id]').waitFor();
    expect(await page.locator('[data-reply-id]').textContent()).toBe('Got: Where is my order?');
    await typing().waitFor({ state: 'hidden' });
    expect(await page.locator('[data-message-id]').count()).toBe(1);
    // The first stream read from the start; the ones after the drop from where it had got to.
    expect(streams[0]).toBeNull();
    expect(streams.length).toBeGreaterThanOrEqual(2);
    expect(Number(streams.at(-1))).toBeGreaterThan(0);
    // A reload of the page keeps the customer (the token is in the tab's session storage).
    await page.reload();
    await page.locator('[data-reply-id]').waitFor();
    expect(await page.locator('[data-message-id]').count()).toBe(1);
    expect(problems.filter((p) => !p.includes('net::ERR_'))).toEqual([]);
  });

  it("runs from a script tag on a shop's own site when the tenant allows that site's origin", async () => {
    let shop: Server | null = null;
    try {
      const html = (token: string) =>
        `<!doctype html><html><head><title>Shop</title></head><body><h1>The shop</h1><script src="${t.url}/widget.js" data-token="${token}" data-title="Ask the shop" data-open></script></body></html>`;
      const token = t.token('cleo');
      shop = createServer((_req, res) =>
        res.writeHead(200, { 'content-type': 'text/html' }).end(html(token)),
      );
      await new Promise<void>((resolve) => shop!.listen(0, '127.0.0.1', resolve));
      // Another port is another origin.
      const origin = `http://localhost:${(shop.address() as AddressInfo).port}`;
      await page.goto(origin);
      await connection('ended');
      expect(await page.getByText(/Chat ended: the tenant does not let/).count()).toBe(1);
      expect(await t.store.conversations({ limit: 10 })).toEqual([]);

      await t.keys.setTenant({
        tenantId: 'acme',
        webhookUrl: null,
        webhookSecret: null,
        inboundSecret: null,
        widgetOrigins: [origin],
      });
      t.gate.release();
      await page.reload();
      await connection('live');
      await page.getByRole('button', { name: 'Ask the shop' }).waitFor();
      await say('Do you deliver?');
      await page.locator('[data-reply-id]').waitFor();
      expect(await page.locator('[data-reply-id]').textContent()).toBe('Got: Do you deliver?');
      // The shop's styles do not reach into the chat, nor the chat's out: it lives in a shadow root.
      expect(await page.evaluate("document.querySelector('[data-layout]')?.shadowRoot?.mode")).toBe('open');
    } finally {
      await new Promise<void>((resolve) => (shop ? shop.close(() => resolve()) : resolve()));
    }
    // The refused requests of the first load are console errors; nothing else is.
    expect(problems.filter((p) => !p.includes('403'))).toEqual([]);
  });
});
