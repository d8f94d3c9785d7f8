import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import type { AppEnv } from './app.js';
import { ApiError, errorBody } from './errors.js';

/** The files of the dashboard's bundle (`npm run build` writes them to dist/dashboard/). */
const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/**
 * The page may load only its own files and talk only to this service: nothing is fetched from
 * anywhere else, and no other site may frame it.
 */
const HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Small files, rebuilt with the package: always revalidated, so an upgrade shows at once.
  'cache-control': 'no-cache',
};

/**
 * Where the bundle is: `dir` when given, else `GRAFT_DASHBOARD_DIR` when set (either only), else
 * dist/dashboard/ beside the compiled service (dist/server/), or, when the service runs from its
 * sources (src/server/, as the tests run it), the repository's dist/dashboard/. Null when that
 * place holds no bundle.
 */
export function dashboardDir(
  dir?: string,
  env: Record<string, string | undefined> = process.env,
): string | null {
  const given = dir ?? (env.GRAFT_DASHBOARD_DIR || undefined);
  const candidates =
    given !== undefined
      ? [given]
      : [
          fileURLToPath(new URL('../dashboard/', import.meta.url)),
          fileURLToPath(new URL('../../dist/dashboard/', import.meta.url)),
        ];
  for (const candidate of candidates) {
    if (existsSync(join(candidate, 'index.html')) && existsSync(join(candidate, 'app.js'))) return candidate;
  }
  return null;
}

const notBuilt = () =>
  new ApiError(
    404,
    'not_found',
    'the dashboard is not built: dist/dashboard/ has no bundle. Run `npm run build` (or set GRAFT_DASHBOARD_DIR to a built one)',
  );

/**
 * Serves the web dashboard at `/` and its files under `/dashboard/`, without a key: the page signs
 * in with a tenant's API key and uses the same `/v1` API as everyone. The bundle is looked up on
 * each request (`dashboardDir`), so a build made while the service runs is served at once.
 */
export function dashboardRoutes(app: Hono<AppEnv>, dir?: string): void {
  const serve = async (file: string): Promise<Response> => {
    const found = dashboardDir(dir);
    if (found === null) return Response.json(errorBody(notBuilt()), { status: 404 });
    const body = await readFile(join(found, file));
    return new Response(body, { headers: { 'content-type': ASSETS[file]!, ...HEADERS } });
  };
  app.get('/', () => serve('index.html'));
  app.get('/dashboard/:file', async (c, next) => {
    const file = c.req.param('file');
    if (!Object.hasOwn(ASSETS, file) || file === 'index.html') return next();
    return serve(file);
  });
}
