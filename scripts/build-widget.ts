/**
 * `npm run build` (through scripts/build-dashboard.ts): bundles the web chat widget
 * (src/dashboard/widget/, plain DOM) with esbuild into dist/widget/: widget.js (a classic script,
 * so that `document.currentScript` tells it where graft is) and index.html (the chat page). The
 * browser tests call `buildWidget` into a directory of their own.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const SOURCE = fileURLToPath(new URL('../src/dashboard/widget/', import.meta.url));
export const DEFAULT_WIDGET_OUT = fileURLToPath(new URL('../dist/widget/', import.meta.url));

/** Bundles the widget into `outDir` (created); resolves with widget.js's size in bytes, and gzipped. */
export async function buildWidget(
  outDir = DEFAULT_WIDGET_OUT,
): Promise<{ bytes: number; gzipBytes: number }> {
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(SOURCE, 'main.ts')],
    outfile: join(outDir, 'widget.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: true,
    sourcemap: false,
    legalComments: 'eof',
    tsconfig: fileURLToPath(new URL('../src/dashboard/tsconfig.json', import.meta.url)),
    write: false,
    logLevel: 'warning',
  });
  const js = result.outputFiles[0]!;
  writeFileSync(js.path, js.contents);
  copyFileSync(join(SOURCE, 'index.html'), join(outDir, 'index.html'));
  return { bytes: js.contents.byteLength, gzipBytes: gzipSync(js.contents).byteLength };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { bytes, gzipBytes } = await buildWidget();
  console.log(
    `widget: ${DEFAULT_WIDGET_OUT} (${Math.round(bytes / 1024)} KiB, ${Math.round(gzipBytes / 1024)} KiB gzipped)`,
  );
}
