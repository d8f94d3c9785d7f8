/**
 * `npm run screenshots`: runs the dashboard's browser tests (test/dashboard/dashboard.test.ts) with
 * GRAFT_SCREENSHOT_DIR set to docs/screenshots, so that the screenshots they take of the main views
 * (sign-in, a raced conversation, a graft's and a model call's detail, a 50-turn conversation, a
 * phone) land there, for the README. Needs Chromium at /usr/bin/chromium (or GRAFT_CHROMIUM).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
mkdirSync(dir, { recursive: true });
const run = spawnSync('npx', ['vitest', 'run', 'test/dashboard/dashboard.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  // CI=true: a missing Chromium fails instead of skipping, so no run ends without pictures.
  env: { ...process.env, GRAFT_SCREENSHOT_DIR: dir, CI: 'true' },
});
if (run.status !== 0) process.exit(run.status ?? 1);
console.log(
  `screenshots in ${dir}: ${readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .join(', ')}`,
);
