import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startDemo } from '../../src/cli/demo-command.js';
import type { ConversationView } from '../../src/server/view.js';
import { BURST, until } from './harness.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** "Telegram" on loopback that takes each connection and drops it unanswered: every call fails. */
async function unreachableTelegram() {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
  };
}

const update = (messageId: number, text: string) =>
  JSON.stringify({
    update_id: 500 + messageId,
    message: {
      message_id: messageId,
      date: 1_700_000_000,
      chat: { id: 99, type: 'private', first_name: 'Ann' },
      from: { id: 99, is_bot: false, first_name: 'Ann' },
      text,
    },
  });

describe('graft demo --channels telegram, with a fake token', () => {
  it('accepts Telegram updates: a burst becomes one conversation with one reply, a redelivery is ignored, a wrong secret gets 401', async () => {
    const telegram = await unreachableTelegram();
    const demo = await startDemo(['--store', 'memory', '--port', '0', '--channels', 'telegram'], {
      TELEGRAM_BOT_TOKEN: '123456:fake-token',
      TELEGRAM_WEBHOOK_SECRET_TOKEN: 'demo-secret',
      TELEGRAM_API_BASE_URL: telegram.url,
      GRAFT_DELIVERY_BACKOFF_MS: '50',
      GRAFT_LOG_LEVEL: 'fatal',
    });
    closers.push(() => demo.close());
    expect(demo.channels).toEqual([`${demo.url}/v1/channels/telegram`]);
    const post = (body: string, secret = 'demo-secret') =>
      fetch(`${demo.url}/v1/channels/telegram`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
        body,
      });
    for (const [i, text] of BURST.entries()) expect((await post(update(i + 1, text))).status).toBe(200);
    expect((await post(update(2, BURST[1]!))).status).toBe(200);
    expect((await post(update(4, 'Cancel everything.'), 'wrong-secret')).status).toBe(401);

    const view = async (): Promise<ConversationView> =>
      (await (
        await fetch(`${demo.url}/v1/conversations/telegram:99`, { headers: { authorization: 'Bearer demo' } })
      ).json()) as ConversationView;
    await until(async () => (await view()).replies.length > 0, 'the reply', 20_000);
    const conversation = await view();
    expect(conversation.messages.map((m) => [m.id, m.text])).toEqual([
      ['99:1', BURST[0]],
      ['99:2', BURST[1]],
      ['99:3', BURST[2]],
    ]);
    expect(conversation.replies).toHaveLength(1);
    expect(conversation.replies[0]!.covers).toEqual(['99:1', '99:2', '99:3']);
    const { conversations } = (await (
      await fetch(`${demo.url}/v1/conversations`, { headers: { authorization: 'Bearer demo' } })
    ).json()) as { conversations: { id: string }[] };
    expect(conversations.map((c) => c.id)).toEqual(['telegram:99']);
    // Telegram cannot be reached: the reply's delivery fails and is tried again.
    await until(() => telegram.connections() >= 3, 'delivery retries', 20_000);
    expect((await view()).replies[0]!.status).toBe('committed');
  });
});
