import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serveCommand } from '../../src/cli/serve-command.js';
import { RetryableError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/open.js';
import { silentServer } from './proxy.js';

/**
 * Start-up against a PostgreSQL that is not there in one way or another: graft gives up within its
 * deadline with an error that names the server and the timeout (no timing assertions: the
 * tests' own time bounds are generous, the benchmark measures).
 */
describe('start-up against a database that does not answer', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('gives up on a server that accepts and never answers, naming the host and the timeout', async () => {
    const silent = await silentServer();
    cleanups.push(silent.close);
    const error = await openStore(`postgres://postgres@127.0.0.1:${silent.port}/test`, {
      connectTimeoutMs: 500,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).code).toBe('store_timeout');
    expect((error as Error).message).toContain(`127.0.0.1:${silent.port}`);
    expect((error as Error).message).toContain('500 ms');
  }, 15_000);

  it('gives up on a server that never accepts (a full listen backlog of a stopped process)', async () => {
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:net').createServer();
         s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanups.push(() => void child.kill('SIGKILL'));
    const port = await new Promise<number>((resolve) =>
      child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
    );
    // Stopped, the process never accepts: the kernel queues a connection or two, then drops SYNs.
    process.kill(child.pid!, 'SIGSTOP');
    const fillers = Array.from({ length: 4 }, () =>
      net.connect(port, '127.0.0.1').on('error', () => undefined),
    );
    cleanups.push(() => fillers.forEach((s) => s.destroy()));
    const error = await openStore(`postgres://postgres@127.0.0.1:${port}/test`, {
      connectTimeoutMs: 500,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((error as RetryableError).code).toBe('store_timeout');
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
  }, 15_000);

  it('says so at once when the server refuses connections', async () => {
    const free = await silentServer();
    await free.close(); // the port is free now: nothing listens
    const error = await openStore(`postgres://postgres@127.0.0.1:${free.port}/test`, {
      connectTimeoutMs: 5_000,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((error as RetryableError).code).toBe('store_unavailable');
    expect((error as Error).message).toContain(`127.0.0.1:${free.port}`);
  }, 15_000);

  it('graft serve exits non-zero with the host and the timeout when PostgreSQL never answers', async () => {
    const silent = await silentServer();
    cleanups.push(silent.close);
    const errors: string[] = [];
    const spy = vi
      .spyOn(console, 'error')
      .mockImplementation((line: unknown) => void errors.push(String(line)));
    cleanups.push(() => spy.mockRestore());
    const code = await serveCommand(
      ['--store', `postgres://postgres@127.0.0.1:${silent.port}/test`, '--port', '0', '--model', 'emulator'],
      { env: { GRAFT_LOG_LEVEL: 'silent' }, log: () => undefined },
    );
    expect(code).not.toBe(0);
    expect(errors.join('\n')).toMatch(new RegExp(`127\\.0\\.0\\.1:${silent.port}.*10000 ms`));
  }, 30_000);
});
