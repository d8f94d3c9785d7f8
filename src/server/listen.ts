import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';

export interface ListeningServer {
  /** `http://host:port`, without a trailing slash. */
  url: string;
  port: number;
  server: Server;
  /**
   * The first step of a graceful shutdown: closes the listener (no new connections) and idle
   * keep-alive connections; a request that still arrives on an open connection is answered 503
   * with `Retry-After: 1` and `Connection: close`. Requests in flight finish; `close()` ends the
   * rest (SSE streams included).
   */
  stopAccepting(): void;
  /** Stops accepting, ends open connections (SSE streams included), resolves when closed. */
  close(): Promise<void>;
}

/** What a request that arrives while the server shuts down gets. */
function shuttingDown(): Response {
  return Response.json(
    { error: { code: 'unavailable', message: 'the server is shutting down; retry on another instance' } },
    { status: 503, headers: { 'retry-after': '1', connection: 'close' } },
  );
}

/**
 * Serves a Hono app on Node's HTTP server.
 *
 * @example
 * const { url, close } = await listen(service.app, { port: 8787, hostname: '127.0.0.1' });
 */
export function listen(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  options: { port?: number; hostname?: string } = {},
): Promise<ListeningServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  let stopping = false;
  // `server.close` once: it stops listening now, and calls back when the last connection ends.
  let closed: Promise<void> | null = null;
  const stopListening = (): Promise<void> =>
    (closed ??= new Promise<void>((done, fail) => server.close((error) => (error ? fail(error) : done()))));
  const server = createAdaptorServer({
    fetch: (request: Request) => (stopping ? shuttingDown() : app.fetch(request)),
    serverOptions: { keepAliveTimeout: 5_000 },
  }) as Server;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, hostname, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        url: `http://${host}:${address.port}`,
        port: address.port,
        server,
        stopAccepting: () => {
          stopping = true;
          // Awaited by `close()`; a failure here (not listening) shows there.
          stopListening().catch(() => undefined);
          server.closeIdleConnections();
        },
        close: () => {
          stopping = true;
          const done = stopListening();
          server.closeAllConnections();
          return done;
        },
      });
    });
  });
}
