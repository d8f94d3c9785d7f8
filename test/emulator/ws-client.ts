import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A small WebSocket client for the tests (Node 20 has no WebSocket client without a flag, and the
 * SDK's `ResponsesWS` needs the `ws` package): it opens `ws://host:port/v1/responses`, sends JSON
 * text messages (masked, as clients must) and collects the server's messages.
 */
export interface TestWebSocket {
  /** The HTTP status of the handshake (101 when upgraded) and the body of a refusal. */
  status: number;
  refusal: string;
  send(value: unknown): void;
  /** Sends raw text (to test malformed messages). */
  sendText(text: string): void;
  /** Waits for the next message that `match` accepts, skipping none: messages arrive in order. */
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Collects messages until one satisfies `done` (included). */
  until(
    done: (message: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>[]>;
  close(): void;
  /** Resolves with the close code once the server closed the connection. */
  closed: Promise<number>;
}

function mask(payload: Buffer): Buffer {
  const key = randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i += 1) masked[i] = payload[i]! ^ key[i % 4]!;
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x81, 0x80 | length])
      : length < 65_536
        ? Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff])
        : (() => {
            const b = Buffer.alloc(10);
            b[0] = 0x81;
            b[1] = 0x80 | 127;
            b.writeBigUInt64BE(BigInt(length), 2);
            return b;
          })();
  return Buffer.concat([header, key, masked]);
}

export function openWebSocket(url: string, headers: Record<string, string> = {}): Promise<TestWebSocket> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(target.port), target.hostname);
    let buffer = Buffer.alloc(0);
    let upgraded = false;
    const messages: Record<string, unknown>[] = [];
    const waiters: (() => void)[] = [];
    let closeCode: ((code: number) => void) | null = null;
    const closed = new Promise<number>((r) => (closeCode = r));
    const wake = (): void => {
      for (const waiter of waiters.splice(0)) waiter();
    };
    const client: TestWebSocket = {
      status: 0,
      refusal: '',
      send: (value) => client.sendText(JSON.stringify(value)),
      sendText: (text) => void socket.write(mask(Buffer.from(text, 'utf8'))),
      next: async (timeoutMs = 5_000) => (await client.until(() => true, timeoutMs)).at(-1)!,
      until: (done, timeoutMs = 5_000) =>
        new Promise((res, rej) => {
          const taken: Record<string, unknown>[] = [];
          const timer = setTimeout(
            () =>
              rej(
                new Error(
                  `no matching message within ${timeoutMs} ms: ${JSON.stringify(taken).slice(0, 500)}`,
                ),
              ),
            timeoutMs,
          );
          const drain = (): void => {
            while (messages.length > 0) {
              const message = messages.shift()!;
              taken.push(message);
              if (done(message)) {
                clearTimeout(timer);
                return res(taken);
              }
            }
            waiters.push(drain);
          };
          drain();
        }),
      close: () => socket.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])),
      closed,
    };
    const readFrames = (): void => {
      while (buffer.length >= 2) {
        const opcode = buffer[0]! & 0x0f;
        let length = buffer[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffer.length < offset + length) return;
        const payload = buffer.subarray(offset, offset + length);
        buffer = buffer.subarray(offset + length);
        if (opcode === 0x1) messages.push(JSON.parse(payload.toString('utf8')) as Record<string, unknown>);
        if (opcode === 0x8) closeCode?.(payload.length >= 2 ? payload.readUInt16BE(0) : 1005);
      }
      wake();
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('utf8');
        client.status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0);
        buffer = buffer.subarray(end + 4);
        upgraded = true;
        if (client.status !== 101) {
          socket.on('end', () => {
            client.refusal = buffer.toString('utf8');
            resolve(client);
          });
          return;
        }
        resolve(client);
      }
      if (client.status === 101) readFrames();
    });
    socket.on('close', () => {
      closeCode?.(1006);
      wake();
    });
    socket.on('error', reject);
    const key = randomBytes(16).toString('base64');
    const lines = [
      `GET ${target.pathname} HTTP/1.1`,
      `Host: ${target.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}
