import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmulator, createScriptedBrain, type ListeningEmulator } from '../../src/emulator/index.js';

/** The WebSocket framing itself, byte by byte: fragments, pings, binary frames, an early first message. */

let listening: ListeningEmulator | null = null;
afterEach(async () => {
  await listening?.close();
  listening = null;
});

function masked(opcode: number, payload: Buffer, fin = true): Buffer {
  const key = randomBytes(4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ key[i % 4]!));
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payload.length]), key, body]);
}

/** Opens a raw connection, writes `frames` right after the handshake (in the same packet), reads frames back. */
async function raw(
  frames: Buffer[],
  until: (opcodes: number[]) => boolean,
): Promise<{ opcode: number; payload: Buffer }[]> {
  const emulator = createEmulator({ brain: createScriptedBrain([[{ type: 'message', text: 'Hi.' }]]) });
  listening = await emulator.listen(0);
  const port = listening.port;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const out: { opcode: number; payload: Buffer }[] = [];
    let buffer = Buffer.alloc(0);
    let upgraded = false;
    const timer = setTimeout(
      () => reject(new Error(`timed out with ${JSON.stringify(out.map((f) => f.opcode))}`)),
      5_000,
    );
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        expect(buffer.subarray(0, 12).toString()).toBe('HTTP/1.1 101');
        buffer = buffer.subarray(end + 4);
        upgraded = true;
      }
      while (buffer.length >= 2) {
        let length = buffer[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          length = buffer.readUInt16BE(2);
          offset = 4;
        }
        if (buffer.length < offset + length) break;
        out.push({ opcode: buffer[0]! & 0x0f, payload: buffer.subarray(offset, offset + length) });
        buffer = buffer.subarray(offset + length);
      }
      if (until(out.map((f) => f.opcode))) {
        clearTimeout(timer);
        socket.destroy();
        resolve(out);
      }
    });
    socket.on('error', reject);
    const handshake = [
      'GET /v1/responses HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
    ].join('\r\n');
    socket.write(Buffer.concat([Buffer.from(`${handshake}\r\n\r\n`), ...frames]));
  });
}

describe('the WebSocket framing', () => {
  it('answers a ping, and joins a fragmented message sent with the handshake', async () => {
    const text = Buffer.from(JSON.stringify({ type: 'response.create', model: 'gpt-4o-mini', input: 'Hi' }));
    const frames = [
      masked(0x9, Buffer.from('ping!')),
      masked(0x1, text.subarray(0, 10), false),
      masked(0x0, text.subarray(10, 40), false),
      masked(0x0, text.subarray(40)),
    ];
    const out = await raw(
      frames,
      (opcodes) => opcodes.filter((o) => o === 0x1).length >= 3 && opcodes.includes(0xa),
    );
    expect(out[0]).toMatchObject({ opcode: 0xa, payload: Buffer.from('ping!') });
    const messages = out
      .filter((f) => f.opcode === 0x1)
      .map((f) => JSON.parse(f.payload.toString()) as { type: string });
    expect(messages[0]!.type).toBe('response.created');
  });

  it('closes with 1003 on a binary message', async () => {
    const out = await raw([masked(0x2, Buffer.from([1, 2, 3]))], (opcodes) => opcodes.includes(0x8));
    expect(out.at(-1)!.payload.readUInt16BE(0)).toBe(1003);
  });
});
