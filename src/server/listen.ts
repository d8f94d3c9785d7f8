import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';

export interface ListeningServer {
  /** `http://host:port`, without a trailing slash. */
  url: string;
  port: number;
  server: Server;
  /** Stops accepting, ends open connections (SSE streams included), resolves when closed. */
  close(): Promise<void>;
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
  const server = createAdaptorServer({
    fetch: app.fetch,
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
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()));
            server.closeAllConnections();
          }),
      });
    });
  });
}
