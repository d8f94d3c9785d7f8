import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { demoCommand, startDemo } from '../../src/cli/demo-command.js';
import { inspectCommand } from '../../src/cli/inspect-command.js';
import { keysCommand } from '../../src/cli/keys-command.js';
import { serveCommand, serveConfig, startServe } from '../../src/cli/serve-command.js';
import type { ConversationView } from '../../src/server/view.js';
import { until } from './helpers.js';
import { describePostgres, TEST_POSTGRES_URL } from '../postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'graft-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FAST = ['--port', '0', '--latency', 'zero', '--tool-latency-ms', '20'];

function capture() {
  const lines: string[] = [];
  return { lines, log: (line: string) => lines.push(line), text: () => lines.join('\n') };
}

async function api(url: string, key: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function waitForReply(url: string, key: string, conversationId: string): Promise<ConversationView> {
  let view: ConversationView | null = null;
  await until(async () => {
    const res = await api(url, key, `/v1/conversations/${conversationId}`);
    view = res.status === 200 ? ((await res.json()) as ConversationView) : null;
    return view !== null && view.replies.some((r) => r.status !== 'committed');
  }, `a reply in ${conversationId}`);
  return view!;
}

describe('the graft CLI', () => {
  it('prints help for serve, demo, inspect and keys', async () => {
    for (const [command, name] of [
      [serveCommand, 'serve'],
      [demoCommand, 'demo'],
      [inspectCommand, 'inspect'],
      [keysCommand, 'keys'],
    ] as const) {
      const out = capture();
      const args = name === 'keys' ? ['--help'] : ['--help'];
      expect(await command(args, { log: out.log })).toBe(0);
      expect(out.text()).toContain(`Usage: graft ${name}`);
    }
  });

  it('takes flags over environment over defaults', () => {
    const env = {
      GRAFT_PORT: '9000',
      GRAFT_DATABASE_URL: 'postgres://db/x',
      GRAFT_WEBHOOK_URL: 'http://hooks',
      OPENAI_API_KEY: 'sk-test',
    };
    const { config } = serveConfig(['--port', '9001'], env);
    expect(config).toMatchObject({
      port: 9001,
      store: 'postgres://db/x',
      webhookUrl: 'http://hooks',
      model: 'openai',
      mode: 'chain',
    });
    expect(serveConfig([], {}).config).toMatchObject({
      port: 8787,
      store: 'sqlite:./data/graft.db',
      model: 'emulator',
      latency: 'realistic',
    });
    expect(() => serveConfig(['--model', 'gpt'], {})).toThrow(/--model/);
    expect(() => serveConfig(['--port', 'x'], {})).toThrow(/--port/);
  });

  it('runs the demo on SQLite: one reply, the order listed, then inspect, keys and serve on the same file', async () => {
    const store = `sqlite:${join(dir, 'demo.db')}`;
    const demo = await startDemo(['--store', store, ...FAST], {});
    try {
      expect(
        (await api(demo.url, 'demo', '/v1/conversations/c1/messages', { id: 'm1', text: 'I want 2 pizzas.' }))
          .status,
      ).toBe(202);
      const view = await waitForReply(demo.url, 'demo', 'c1');
      expect(view.replies).toHaveLength(1);
      const orders = (await (await api(demo.url, 'demo', '/v1/demo/orders')).json()) as {
        orders: Record<string, unknown>[];
      };
      expect(orders.orders).toEqual([
        expect.objectContaining({
          orderId: 'ord_1',
          conversationId: 'c1',
          items: [{ product: 'pizza', quantity: 2 }],
          status: 'confirmed',
          idempotencyKey: expect.any(String),
        }),
      ]);
      expect((await api(demo.url, 'nope', '/v1/demo/orders')).status).toBe(401);
    } finally {
      await demo.close();
    }
    const tree = capture();
    expect(await inspectCommand(['c1', '--store', store], { log: tree.log })).toBe(0);
    expect(tree.text()).toMatch(/conversation c1 · tenant demo/);
    expect(tree.text()).toMatch(/create_order .* → effect eff_\d+_\d+ \(done\)/);
    expect(await inspectCommand(['nope', '--store', store], { log: tree.log })).toBe(1);
    const created = capture();
    expect(
      await keysCommand(['create', '--tenant', 'acme', '--store', store, '--label', 'ci'], {
        log: created.log,
      }),
    ).toBe(0);
    const key = created.lines[0]!;
    const listed = capture();
    expect(await keysCommand(['list', '--store', store], { log: listed.log })).toBe(0);
    expect(listed.text()).toMatch(/key_\w+\tacme\t.*\tactive\tci/);
    const served = await startServe(
      serveConfig(['--store', store, '--port', '0', '--latency', 'zero'], {}).config,
    );
    try {
      expect((await api(served.url, key, '/v1/conversations')).status).toBe(200);
      expect((await api(served.url, 'demo', '/v1/conversations')).status).toBe(401);
    } finally {
      await served.close();
    }
  });

  it("accepts GRAFT_DEMO_API_KEY instead of 'demo', and refuses keys on the memory store", async () => {
    const demo = await startDemo(['--store', 'memory', ...FAST], { GRAFT_DEMO_API_KEY: 'sesame' });
    try {
      expect((await api(demo.url, 'demo', '/v1/conversations')).status).toBe(401);
      expect((await api(demo.url, 'sesame', '/v1/conversations')).status).toBe(200);
    } finally {
      await demo.close();
    }
    expect(
      await keysCommand(['create', '--tenant', 'acme', '--store', 'memory'], { log: () => undefined }),
    ).toBe(2);
    expect(await keysCommand(['create', '--store', 'memory'], { log: () => undefined })).toBe(2);
  });
});

describePostgres('the demo on PostgreSQL', () => {
  it('shares one shop between two instances on one database', async () => {
    const name = `graft_cli_${randomBytes(5).toString('hex')}`;
    const admin = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => undefined });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = `/${name}`;
    try {
      const [a, b] = [
        await startDemo(['--store', url.href, ...FAST], {}),
        await startDemo(['--store', url.href, ...FAST], {}),
      ];
      try {
        expect(
          (await api(a.url, 'demo', '/v1/conversations/pa/messages', { id: 'm1', text: 'I want 2 pizzas.' }))
            .status,
        ).toBe(202);
        expect(
          (await api(b.url, 'demo', '/v1/conversations/pb/messages', { id: 'm1', text: 'I want a salad.' }))
            .status,
        ).toBe(202);
        await waitForReply(a.url, 'demo', 'pa');
        await waitForReply(b.url, 'demo', 'pb');
        for (const instance of [a, b]) {
          const { orders } = (await (await api(instance.url, 'demo', '/v1/demo/orders')).json()) as {
            orders: { conversationId: string }[];
          };
          expect(orders.map((o) => o.conversationId).sort()).toEqual(['pa', 'pb']);
        }
        // Either instance serves the other's conversation from the shared store.
        expect((await api(b.url, 'demo', '/v1/conversations/pa')).status).toBe(200);
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end({ timeout: 1 });
    }
  });
});
