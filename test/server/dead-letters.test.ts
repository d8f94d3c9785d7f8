import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deadLettersCommand } from '../../src/cli/dead-letters-command.js';
import { startDemo } from '../../src/cli/demo-command.js';
import type { ConversationView, DeadLetterView } from '../../src/server/view.js';
import { until } from './helpers.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A reply webhook on 127.0.0.1 that answers 500 until it is fixed, counting every POST. */
async function brokenReceiver() {
  const state = { fixed: false, posts: 0, accepted: [] as { deliveryId: string; text: string }[] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.posts += 1;
      if (!state.fixed) return void res.writeHead(500).end();
      state.accepted.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as (typeof state.accepted)[0]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/replies`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { url, state, close };
}

async function api(url: string, path: string, init: { method?: string; key?: string } = {}) {
  return fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${init.key ?? 'demo'}` },
  });
}

function capture() {
  const lines: string[] = [];
  return { lines, log: (line: string) => lines.push(line), text: () => lines.join('\n') };
}

describe('dead letters', () => {
  it('graft demo --delivery-attempts 3: a reply a broken webhook refuses is dead-lettered, listed, and delivered again once it is fixed', async () => {
    const receiver = await brokenReceiver();
    closers.push(receiver.close);
    const demo = await startDemo(
      [
        '--store',
        'memory',
        '--port',
        '0',
        '--latency',
        'zero',
        '--tool-latency-ms',
        '0',
        '--webhook-url',
        receiver.url,
        '--delivery-attempts',
        '3',
        '--delivery-backoff-ms',
        '5',
      ],
      {},
    );
    closers.push(() => demo.close());
    const posted = await fetch(`${demo.url}/v1/conversations/c1/messages`, {
      method: 'POST',
      headers: { authorization: 'Bearer demo', 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'm1', text: 'Hello!' }),
    });
    expect(posted.status).toBe(202);

    let letters: DeadLetterView[] = [];
    await until(async () => {
      const body = (await (await api(demo.url, '/v1/dead-letters')).json()) as {
        deadLetters: DeadLetterView[];
      };
      letters = body.deadLetters;
      return letters.length > 0;
    }, 'the dead letter');
    expect(receiver.state.posts).toBe(3);
    expect(letters).toEqual([
      {
        conversationId: 'c1',
        deliveryId: expect.stringMatching(/^demo:c1:rep_\d+$/),
        replyId: expect.stringMatching(/^rep_\d+$/),
        attempts: 3,
        lastError: expect.stringContaining('answered 500'),
        reason: 'attempts',
        since: expect.any(String),
      },
    ]);
    const deliveryId = letters[0]!.deliveryId;
    // The conversation is in the queue for a person, for its dead letter.
    const queue = (await (await api(demo.url, '/v1/queue')).json()) as {
      queue: { conversationId: string; reasons: { reason: string }[] }[];
    };
    expect(queue.queue.map((e) => [e.conversationId, e.reasons.map((r) => r.reason)])).toEqual([
      ['c1', ['dead-letter']],
    ]);
    const view = (await (await api(demo.url, '/v1/conversations/c1')).json()) as ConversationView;
    expect(view.replies[0]).toMatchObject({
      status: 'dead-lettered',
      deliveredAt: null,
      deadLetter: { attempts: 3, reason: 'attempts' },
    });
    // `graft dead-letters list` lists it too.
    const other = capture();
    const env = { GRAFT_API_KEY: 'demo' };
    expect(await deadLettersCommand(['list', '--url', demo.url], { log: other.log, env })).toBe(0);
    expect(other.text()).toContain(deliveryId);
    const metrics = await (await fetch(`${demo.url}/metrics`)).text();
    expect(metrics).toMatch(/graft_dead_letters_total\{tenant="demo",reason="attempts"\} 1/);

    const missing = await api(demo.url, '/v1/dead-letters/demo:c1:rep_999/redeliver', { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });

    receiver.state.fixed = true;
    const out = capture();
    expect(
      await deadLettersCommand(['redeliver', deliveryId, '--url', demo.url], { log: out.log, env }),
    ).toBe(0);
    await until(() => receiver.state.accepted.length === 1, 'the redelivered reply');
    expect(receiver.state.accepted[0]).toMatchObject({ deliveryId, text: view.replies[0]!.text });
    await until(async () => {
      const after = (await (await api(demo.url, '/v1/conversations/c1')).json()) as ConversationView;
      return after.replies[0]!.status === 'delivered';
    }, 'the delivery recorded');
    const body = (await (await api(demo.url, '/v1/dead-letters')).json()) as { deadLetters: unknown[] };
    expect(body.deadLetters).toEqual([]);
    // Redelivering what is no longer dead-lettered is a 404, like an unknown id.
    expect(
      (
        await api(demo.url, `/v1/dead-letters/${encodeURIComponent(deliveryId)}/redeliver`, {
          method: 'POST',
        })
      ).status,
    ).toBe(404);
  });

  it('refuses GET /v1/dead-letters without a key, and a bad limit', async () => {
    const demo = await startDemo(['--store', 'memory', '--port', '0', '--latency', 'zero'], {});
    closers.push(() => demo.close());
    expect((await fetch(`${demo.url}/v1/dead-letters`)).status).toBe(401);
    const bad = await api(demo.url, '/v1/dead-letters?limit=x');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_query' } });
  });
});
