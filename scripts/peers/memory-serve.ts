/**
 * `graft serve` with one route more, for `npm run bench:scaleout`'s memory figure: the service is
 * started by the built CLI's own `startServe` (dist/, what `bin/graft.js serve` runs, with the
 * same flags), and `GET /bench/memory` answers `process.memoryUsage()` right after a full
 * garbage collection. Run with `node --expose-gc --import tsx scripts/peers/memory-serve.ts
 * <graft serve flags>`; it prints `graft listening on <url>` like `graft serve`.
 */
import type { Hono } from 'hono';

interface ServeModule {
  serveConfig(argv: readonly string[], env: Record<string, string | undefined>): { config: { port: number } };
  startServe(
    config: unknown,
    options: { routes?: (app: Hono) => void },
  ): Promise<{ url: string; close(): Promise<void> }>;
}

// Imported by URL at run time: the built service (dist/ exists once `npm run build` ran).
const dist = new URL('../../dist/cli/serve-command.js', import.meta.url).href;
const { serveConfig, startServe } = (await import(dist)) as ServeModule;
const { config } = serveConfig(process.argv.slice(2), process.env);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const running = await startServe(config, {
  routes: (app) => {
    app.get('/bench/memory', (c) => {
      gc();
      gc();
      return c.json(process.memoryUsage());
    });
  },
});
console.log(`graft listening on ${running.url}`);
process.on('SIGTERM', () => {
  void running.close().then(() => process.exit(0));
});
