import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The server side of a WebSocket (RFC 6455), as much of it as the Responses WebSocket mode needs:
 * the opening handshake, text messages (fragmented or not) in both directions, ping/pong, and the
 * closing handshake. Node has no WebSocket server of its own, and the emulator takes no
 * dependency for this one route.
 */

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC11B65';

const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Close codes used here (RFC 6455 §7.4.1). */
export const CLOSE = { normal: 1000, goingAway: 1001, protocolError: 1002, unsupported: 1003, tooBig: 1009 };

export interface WebSocketHandlers {
  message(text: string): void;
  /** Called once, when the connection is gone (closed by either side or broken). */
  close(code: number): void;
}

export interface ServerWebSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  readonly open: boolean;
}

/** Whether a request asks to upgrade to a WebSocket. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (
    (req.headers.upgrade ?? '').toLowerCase() === 'websocket' &&
    typeof req.headers['sec-websocket-key'] === 'string'
  );
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Bad Request'}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(text)}`,
    'connection: close',
    ...Object.entries(headers).map(([key, value]) => `${key}: ${value}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}

function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x80 | opcode, length])
      : length < 65_536
        ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(length)]);
  return Buffer.concat([header, payload]);
}

function bigLength(length: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(length));
  return bytes;
}

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
  /** Bytes the frame took in the buffer. */
  size: number;
}

/** The first complete frame in `buffer`, or null if it has not all arrived; throws on a protocol error. */
function readFrame(buffer: Buffer, maxBytes: number): Frame | null {
  if (buffer.length < 2) return null;
  const first = buffer[0]!;
  const second = buffer[1]!;
  if ((second & 0x80) === 0) throw new ProtocolError(CLOSE.protocolError, 'client frames must be masked');
  let length = second & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    const big = buffer.readBigUInt64BE(2);
    if (big > BigInt(maxBytes)) throw new ProtocolError(CLOSE.tooBig, 'message too big');
    length = Number(big);
    offset = 10;
  }
  if (length > maxBytes) throw new ProtocolError(CLOSE.tooBig, 'message too big');
  if (buffer.length < offset + 4 + length) return null;
  const mask = buffer.subarray(offset, offset + 4);
  const payload = Buffer.from(buffer.subarray(offset + 4, offset + 4 + length));
  for (let i = 0; i < payload.length; i += 1) payload[i]! ^= mask[i % 4]!;
  return { fin: (first & 0x80) !== 0, opcode: first & 0x0f, payload, size: offset + 4 + length };
}

class ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Completes the opening handshake on an upgrade request and returns the connection.
 * `maxBytes` bounds one message (a longer one closes the connection with 1009).
 */
export function acceptWebSocket(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  handlers: WebSocketHandlers,
  maxBytes: number,
): ServerWebSocket {
  const key = req.headers['sec-websocket-key'] as string;
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
  );
  let buffer: Buffer = head.length > 0 ? Buffer.from(head) : Buffer.alloc(0);
  let fragments: Buffer[] = [];
  let fragmentBytes = 0;
  let open = true;
  let closed = false;
  const finish = (code: number): void => {
    if (closed) return;
    closed = true;
    open = false;
    handlers.close(code);
  };
  const connection: ServerWebSocket = {
    get open() {
      return open;
    },
    send(text) {
      if (open && !socket.destroyed) socket.write(frame(OPCODE.text, Buffer.from(text, 'utf8')));
    },
    close(code = CLOSE.normal, reason = '') {
      if (!open) return;
      open = false;
      const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
      payload.writeUInt16BE(code, 0);
      payload.write(reason, 2);
      if (!socket.destroyed) socket.end(frame(OPCODE.close, payload));
      finish(code);
    },
  };
  const onFrame = (f: Frame): void => {
    if (f.opcode === OPCODE.close) {
      const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : CLOSE.normal;
      connection.close(code);
      return;
    }
    if (f.opcode === OPCODE.ping) {
      if (!socket.destroyed) socket.write(frame(OPCODE.pong, f.payload));
      return;
    }
    if (f.opcode === OPCODE.pong) return;
    if (f.opcode === OPCODE.binary)
      throw new ProtocolError(CLOSE.unsupported, 'only text messages are accepted');
    if (f.opcode !== OPCODE.text && f.opcode !== OPCODE.continuation)
      throw new ProtocolError(CLOSE.protocolError, 'unknown opcode');
    fragmentBytes += f.payload.length;
    if (fragmentBytes > maxBytes) throw new ProtocolError(CLOSE.tooBig, 'message too big');
    fragments.push(f.payload);
    if (!f.fin) return;
    const text = Buffer.concat(fragments).toString('utf8');
    fragments = [];
    fragmentBytes = 0;
    handlers.message(text);
  };
  const onData = (chunk: Buffer): void => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    try {
      for (let f = readFrame(buffer, maxBytes); f && open; f = readFrame(buffer, maxBytes)) {
        buffer = buffer.subarray(f.size);
        onFrame(f);
      }
    } catch (error) {
      connection.close(
        error instanceof ProtocolError ? error.code : CLOSE.protocolError,
        (error as Error).message,
      );
    }
  };
  socket.on('data', onData);
  socket.on('close', () => finish(CLOSE.goingAway));
  socket.on('error', () => socket.destroy());
  if (buffer.length > 0) {
    // Bytes that came with the upgrade are read once the caller holds the connection.
    const initial = buffer;
    buffer = Buffer.alloc(0);
    queueMicrotask(() => onData(initial));
  }
  return connection;
}
