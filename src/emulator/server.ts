import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { CLERK_TOOLS, createShopClerk } from '../demo/clerk/index.js';
import { EmulatorEngine, type EmulatorStats } from './engine.js';
import { withGenericTools } from './generic-brain.js';
import { resolveOptions, type EmulatorOptions } from './options.js';
import { createRequestHandler } from './routes.js';
import { createUpgradeHandler } from './ws-session.js';

/** A listening emulator: its base URL (ending in `/v1`, as SDK clients want it) and how to stop it. */
export interface ListeningEmulator {
  url: string;
  port: number;
  close: () => Promise<void>;
}

export interface Emulator {
  /** The request handler, for mounting in another `node:http` server. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** The handler of HTTP upgrades (the Responses WebSocket mode), for another server's `upgrade` event. */
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  server: Server;
  engine: EmulatorEngine;
  /** Request counters (every HTTP request, and the creates among them). */
  stats(): EmulatorStats;
  /** Starts listening; port 0 picks a free port. */
  listen(port?: number, host?: string): Promise<ListeningEmulator>;
}

/**
 * Creates a local Responses API emulator. State is kept in memory.
 *
 * @example
 * const emulator = createEmulator({ brain: createScriptedBrain([[{ type: 'message', text: 'Hi!' }]]) });
 * const { url, close } = await emulator.listen(0);
 * const openai = new OpenAI({ apiKey: 'test', baseURL: url });
 * await openai.responses.create({ model: 'gpt-4o-mini', input: 'Hello' });
 * await close();
 */
export function createEmulator(options: EmulatorOptions = {}): Emulator {
  const engine = new EmulatorEngine(
    resolveOptions(options, () => withGenericTools(createShopClerk(), CLERK_TOOLS)),
  );
  const handler = createRequestHandler(engine);
  const sockets = createUpgradeHandler(engine);
  const server = createServer({ keepAliveTimeout: 5_000 }, handler);
  server.on('upgrade', sockets.upgrade);
  return {
    handler,
    upgrade: sockets.upgrade,
    server,
    engine,
    stats: () => ({ ...engine.stats }),
    listen: (port = 0, host = '127.0.0.1') => listen(server, engine, port, host, () => sockets.closeAll()),
  };
}

function listen(
  server: Server,
  engine: EmulatorEngine,
  port: number,
  host: string,
  closeSockets: () => void,
): Promise<ListeningEmulator> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        url: `http://${shownHost}:${address.port}/v1`,
        port: address.port,
        close: () => {
          closeSockets();
          return close(server, engine);
        },
      });
    });
  });
}

function close(server: Server, engine: EmulatorEngine): Promise<void> {
  engine.shutdown();
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}
