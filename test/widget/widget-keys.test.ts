import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keysCommand } from '../../src/cli/keys-command.js';
import { openServiceStore } from '../../src/server/open-store.js';

const dir = mkdtempSync(join(tmpdir(), 'graft-widget-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('graft keys create --widget-secret --widget-origins', () => {
  it("sets the tenant's web chat secret and origins, keeps them when other settings change, and refuses a bad origin", async () => {
    const store = `sqlite:${join(dir, 'graft.db')}`;
    const log = () => undefined;
    const create = (...flags: string[]) =>
      keysCommand(['create', '--tenant', 'acme', '--store', store, ...flags], { log, env: {} });
    expect(
      await create(
        '--widget-secret',
        'wsec_1',
        '--widget-origins',
        'https://Shop.example, http://127.0.0.1:8080',
      ),
    ).toBe(0);
    expect(await create('--webhook-url', 'http://127.0.0.1:9/hook')).toBe(0);
    expect(await create('--widget-origins', 'https://shop.example/checkout')).toBe(2);
    const opened = await openServiceStore(store);
    try {
      expect(await opened.keys.tenant('acme')).toMatchObject({
        webhookUrl: 'http://127.0.0.1:9/hook',
        widgetSecret: 'wsec_1',
        widgetOrigins: ['https://shop.example', 'http://127.0.0.1:8080'],
      });
    } finally {
      await opened.close();
    }
  });
});
