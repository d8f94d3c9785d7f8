/**
 * `npm run build` (after tsc): bundles the web dashboard (src/dashboard/, Preact) with esbuild into
 * dist/dashboard/: index.html, app.js, app.css, favicon.svg. Nothing is fetched at run time: the
 * bundle holds Preact. The browser tests call `buildDashboard` into a directory of their own. The
 * web chat widget is built too (scripts/build-widget.ts, into dist/widget/).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildWidget, DEFAULT_WIDGET_OUT } from './build-widget.js';

const SOURCE = fileURLToPath(new URL('../src/dashboard/', import.meta.url));
export const DEFAULT_OUT = fileURLToPath(new URL('../dist/dashboard/', import.meta.url));

/** Bundles the dashboard into `outDir` (created); resolves with the bundle's size in bytes. */
export async function buildDashboard(
  outDir = DEFAULT_OUT,
  options: { minify?: boolean } = {},
): Promise<number> {
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    // main.tsx imports app.css: esbuild writes it beside app.js, as app.css.
    entryPoints: { app: join(SOURCE, 'main.tsx') },
    outdir: outDir,
    entryNames: '[name]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Current Chromium and Firefox.
    target: ['chrome120', 'firefox120', 'safari17'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: options.minify ?? true,
    sourcemap: false,
    legalComments: 'eof',
    tsconfig: join(SOURCE, 'tsconfig.json'),
    metafile: true,
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'favicon.svg']) copyFileSync(join(SOURCE, file), join(outDir, file));
  return Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const bytes = await buildDashboard();
  console.log(`dashboard: ${DEFAULT_OUT} (${Math.round(bytes / 1024)} KiB)`);
  // The web chat widget is built with it, so that `npm run build` makes both.
  const widget = await buildWidget();
  console.log(
    `widget: ${DEFAULT_WIDGET_OUT} (${Math.round(widget.bytes / 1024)} KiB, ${Math.round(widget.gzipBytes / 1024)} KiB gzipped)`,
  );
}
