/**
 * Client-side deadlines for the PostgreSQL store. The server's own timeouts (`statement_timeout`,
 * `lock_timeout`) cannot fire when the server cannot be reached, so the client bounds every wait
 * itself, in two ways:
 *
 * - every call (a query, a transaction, start-up) races a timer (`withDeadline`): the caller gets
 *   a `STORE_TIMEOUT` error in time, whatever the connection is doing;
 * - every connection is watched (`watchedSocket`): one that owes the server's answer and hears
 *   nothing for the deadline is destroyed, so that postgres.js fails what it carried, drops it
 *   from the pool and opens a fresh one for the next query. A stalled connection is never reused.
 *
 * The watch reads the frames of the wire protocol (a type byte and a length): every Sync or simple
 * Query the client sends is owed one ReadyForQuery, a Flush is owed some answer. Over TLS the
 * frames are encrypted, so TLS connections are not watched; the per-call deadline still holds.
 */
import net from 'node:net';

/** The error code of a deadline that passed (the store maps it to `RetryableError` `store_timeout`). */
export const STORE_TIMEOUT = 'STORE_TIMEOUT';

/** Where the store connects, for messages: `host:port`, or the socket path. */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    const socketHost = parsed.searchParams.get('host');
    if (socketHost !== null && socketHost.startsWith('/')) return socketHost;
    return `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}`;
  } catch {
    return 'the PostgreSQL server';
  }
}

/** An error with the `STORE_TIMEOUT` code and a message that names the server and the deadline. */
export function storeTimeout(target: string, what: string, ms: number, option: string): Error {
  return Object.assign(
    new Error(`PostgreSQL at ${target} did not answer ${what} within ${ms} ms (${option})`),
    { code: STORE_TIMEOUT },
  );
}

/**
 * Settles as `work` does, or rejects with `timeout()` after `ms`, whichever comes first. The work
 * is not cancelled: it fails on its own when the connection under it is destroyed (see
 * `watchedSocket`), and an append that still commits late is fenced by its expected seq.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeout()), ms);
    timer.unref();
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** The parts of postgres.js's options that its `socket` hook is given. */
interface SocketHookOptions {
  host: string[];
  port: number[];
  path?: string | false;
}

/** The `socket` option of postgres.js: a plain TCP (or Unix) socket, watched by `watch`. */
export function watchedSocketFactory(silenceMs: number, timeout: () => Error) {
  return (options: SocketHookOptions): net.Socket => {
    const socket =
      typeof options.path === 'string' && options.path !== ''
        ? net.connect({ path: options.path })
        : net.connect(options.port[0] ?? 5432, options.host[0] ?? 'localhost');
    // postgres.js names these in its connection errors.
    Object.assign(socket, { host: options.host[0], port: options.port[0] });
    watch(socket, silenceMs, timeout);
    return socket;
  };
}

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;

/** Whether each frame the client sends is owed an answer, and which answer settles it. */
function watch(socket: net.Socket, silenceMs: number, timeout: () => Error): void {
  let owedReady = 0; // ReadyForQuery ('Z') messages the server owes
  let owedAnswer = false; // a Flush was sent: any byte answers it
  let first = true;
  let watching = true;
  const inbound = frameReader((type) => {
    if (type === 0x5a /* Z */) owedReady = Math.max(0, owedReady - 1);
  });
  let timer: NodeJS.Timeout | null = null;
  const owed = () => watching && (owedReady > 0 || owedAnswer);
  const arm = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (!owed()) return;
    timer = setTimeout(() => socket.destroy(timeout()), silenceMs);
    timer.unref();
  };

  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = (chunk: unknown, ...rest: unknown[]) => {
    if (watching && Buffer.isBuffer(chunk)) {
      const before = owed();
      let offset = 0;
      if (first) {
        first = false;
        // The first message has no type byte: a StartupMessage (owed a ReadyForQuery once
        // authenticated), an SSLRequest (TLS follows: the frames are hidden) or a CancelRequest.
        const code = chunk.length >= 8 ? chunk.readUInt32BE(4) : 0;
        if (code === SSL_REQUEST || code === CANCEL_REQUEST) watching = false;
        else owedReady += 1;
        offset = chunk.length >= 4 ? chunk.readUInt32BE(0) : chunk.length;
      }
      for (; watching && offset + 5 <= chunk.length; offset += 1 + chunk.readUInt32BE(offset + 1)) {
        const type = chunk[offset];
        if (type === 0x53 /* Sync */ || type === 0x51 /* Query */) owedReady += 1;
        else if (type === 0x48 /* Flush */) owedAnswer = true;
      }
      if (!before && owed()) arm();
    }
    return write(chunk, ...rest);
  };

  socket.on('data', (data: Buffer) => {
    if (!watching) return;
    owedAnswer = false;
    inbound(data);
    arm();
  });
  socket.once('close', () => {
    watching = false;
    arm();
  });
}

/** Splits a byte stream into protocol frames (type byte, 4-byte length), calling `onFrame` with each type. */
function frameReader(onFrame: (type: number) => void): (data: Buffer) => void {
  let header = Buffer.alloc(0);
  let skip = 0;
  return (data) => {
    let offset = 0;
    while (offset < data.length) {
      if (skip > 0) {
        const n = Math.min(skip, data.length - offset);
        skip -= n;
        offset += n;
        continue;
      }
      const need = 5 - header.length;
      header = Buffer.concat([header, data.subarray(offset, offset + need)]);
      offset += Math.min(need, data.length - offset);
      if (header.length < 5) return;
      onFrame(header[0]!);
      skip = header.readUInt32BE(1) - 4;
      header = Buffer.alloc(0);
    }
  };
}
