import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Under CI the PostgreSQL tests never skip: a PostgreSQL suite whose server does not answer fails
 * the run (test/postgres.ts). Checked by running one such suite in a child vitest against a
 * loopback port that refuses connections.
 */
const root = join(import.meta.dirname, '..');

function runSuite(env: Record<string, string>): { status: number | null; output: string } {
  const childEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST')),
  );
  const child = spawnSync(
    process.execPath,
    [join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'test/server/key-store.test.ts'],
    {
      cwd: root,
      env: { ...childEnv, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  return { status: child.status, output: `${child.stdout}${child.stderr}` };
}

async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('PostgreSQL tests under CI', () => {
  it('fail, not skip, when the server does not answer', async () => {
    const url = `postgres://postgres@127.0.0.1:${await refusedPort()}/test`;
    const ci = runSuite({ CI: 'true', GRAFT_TEST_PG_URL: url });
    expect(ci.status, ci.output).not.toBe(0);
    expect(ci.output).toMatch(/failed/);
    const local = runSuite({ CI: '', GRAFT_TEST_PG_URL: url });
    expect(local.status, local.output).toBe(0);
    expect(local.output).toMatch(/PostgreSQL tests skipped/);
  });
});
