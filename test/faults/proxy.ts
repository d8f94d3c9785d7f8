import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 between graft and PostgreSQL that misbehaves on demand:
 * - `stall()`: nothing moves either way, on open connections or new ones, until `heal()`;
 * - `drop()`: bytes on the open connections are thrown away, for good (their protocol streams are
 *   broken: only the client's deadline frees them); new connections are accepted and never
 *   answered until `heal()`;
 * - `reset()`: every open connection is reset (RST) now;
 * - `heal()`: forward again.
 */
export class FaultProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<Pair>();
  private mode: 'pass' | 'stall' | 'drop' = 'pass';
  private readonly waiting: net.Socket[] = [];
  port = 0;

  private constructor(
    private readonly targetPort: number,
    private readonly targetHost: string,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(targetPort = 5432, targetHost = '127.0.0.1'): Promise<FaultProxy> {
    const proxy = new FaultProxy(targetPort, targetHost);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  /** The URL of `url`'s database through the proxy. */
  url(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  get connections(): number {
    return this.pairs.size;
  }

  stall(): void {
    this.mode = 'stall';
    for (const p of this.pairs) {
      p.client.pause();
      p.upstream.pause();
    }
  }

  drop(): void {
    this.mode = 'drop';
    for (const p of this.pairs) p.blackholed = true;
  }

  reset(): void {
    for (const p of [...this.pairs]) this.closePair(p, true);
  }

  heal(): void {
    this.mode = 'pass';
    for (const p of this.pairs) {
      p.client.resume();
      p.upstream.resume();
    }
    for (const client of this.waiting.splice(0)) if (!client.destroyed) this.connect(client);
  }

  async close(): Promise<void> {
    this.reset();
    for (const c of this.waiting.splice(0)) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'pass') return this.connect(client);
    // Accepted, never answered (until healed).
    client.pause();
    this.waiting.push(client);
  }

  private connect(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, this.targetHost);
    const pair: Pair = { client, upstream, blackholed: false };
    this.pairs.add(pair);
    upstream.on('error', () => undefined);
    client.on('data', (d) => void (pair.blackholed || upstream.write(d)));
    upstream.on('data', (d) => void (pair.blackholed || client.write(d)));
    client.on('close', () => this.closePair(pair, false));
    upstream.on('close', () => this.closePair(pair, false));
    client.resume();
  }

  private closePair(pair: Pair, reset: boolean): void {
    if (!this.pairs.delete(pair)) return;
    for (const s of [pair.client, pair.upstream]) {
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
  }
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  blackholed: boolean;
}

/** A server on 127.0.0.1 that accepts connections and never says a word. */
export async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
