import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { buildDashboard } from '../../scripts/build-dashboard.js';
import type { ModelClient } from '../../src/core/ports.js';
import { conversationKey } from '../../src/core/ports.js';
import { MemoryKeyStore } from '../../src/server/keys/key-store.js';
import { listen } from '../../src/server/listen.js';
import { createService } from '../../src/server/service.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { longConversationLog } from './long-conversation.js';

/**
 * What the dashboard's browser tests, `npm run screenshots` and `npm run bench:dashboard` share:
 * Debian's Chromium driven by playwright-core, a fresh bundle of the dashboard in a directory of
 * its own (nothing is written into the repository), and a service holding a long conversation.
 */
export const CHROMIUM = process.env.GRAFT_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM)
    ? null
    : `Chromium is not at ${CHROMIUM}: install it (apt-get install chromium fonts-dejavu-core; .ci/run does) or set GRAFT_CHROMIUM`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Bundles the dashboard into a temporary directory; `remove` deletes it. */
export async function freshBundle(): Promise<{ dir: string; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'graft-dashboard-bundle-'));
  await buildDashboard(dir);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A service on 127.0.0.1 whose tenant `demo` (key `demo`) has one long conversation, `long`:
 * `turns` turns of 4 model calls (test/dashboard/long-conversation.ts). No model is called.
 */
export async function longConversationService(dashboardDir: string, turns = 50) {
  const store = new MemoryStore();
  const events = longConversationLog('long', turns, Date.now() - turns * 30_000);
  await store.append(conversationKey('demo', 'long'), 0, events, { unfinished: false });
  const service = createService({
    store,
    keys: new MemoryKeyStore(),
    model: {} as ModelClient,
    tools: [],
    staticKeys: { demo: 'demo' },
    dashboard: { dir: dashboardDir },
  });
  await service.start();
  const server = await listen(service.app, { port: 0, hostname: '127.0.0.1' });
  return {
    url: server.url,
    store,
    close: async () => {
      await server.close();
      await service.close();
    },
  };
}

/** Opens the dashboard at `url` and signs in with `key`; resolves once the list is shown. */
export async function signIn(page: Page, url: string, key = 'demo'): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Conversations', level: 2 }).first().waitFor();
}
