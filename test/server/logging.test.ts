import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startServe, serveConfig } from '../../src/cli/serve-command.js';
import { createLogger } from '../../src/cli/logger.js';
import type { Logger } from '../../src/index.js';
import { createGraft, MemoryStore, RetryableError } from '../../src/index.js';
import type { ModelClient } from '../../src/core/ports.js';
import { createScriptedBrain, say } from '../../src/model/scripted-brain.js';
import { BrainModel } from '../../src/model/brain-model.js';
import { until } from './helpers.js';

type LogRecord = Record<string, unknown> & { level: number; msg: string; event?: string };

/** A pino logger whose JSON lines are kept in memory, as the records and as text. */
function capture(level = 'info') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = pino({ level }, destination);
  const records = () => lines.map((line) => JSON.parse(line) as LogRecord);
  const of = (event: string) => records().filter((r) => r.event === event);
  return { logger, lines, records, of };
}

const SECRET = 'deliver to 12 Rue Secrète, card 4111';

/** A model that never answers: every call fails as a lost connection does. */
const downModel: ModelClient = {
  create: () => Promise.reject(new RetryableError('Connection error.', null, 'connection_error')),
};

const fastRetries = { retryBaseMs: 1, retryMaxMs: 2 };

describe('logs of the library (createGraft({ logger }))', () => {
  it('logs each failed model call, each retry, the fallback reply and the flag for a person, without the text', async () => {
    const log = capture();
    const graft = createGraft({
      store: new MemoryStore(),
      model: downModel,
      tools: [],
      deliver: () => undefined,
      logger: log.logger,
      limits: fastRetries,
    });
    await graft.receive({ conversationId: 'c1', messageId: 'm1', text: SECRET });
    await until(async () => (await graft.conversation('c1')).replies.length > 0, 'the fallback reply');
    await graft.idle();
    const failed = log.of('model.failed');
    expect(failed.length).toBe(5);
    expect(failed[0]).toMatchObject({
      level: 40,
      tenantId: 'default',
      conversationId: 'c1',
      failure: 'retryable',
      error: 'Connection error.',
      msg: 'model call failed',
    });
    expect(log.of('model.retry')).toHaveLength(4);
    expect(log.of('model.retry')[0]).toMatchObject({ level: 30, reason: 'retry' });
    expect(log.of('reply.fallback')).toHaveLength(1);
    expect(log.of('reply.fallback')[0]).toMatchObject({ level: 40, kind: 'fallback', needsHuman: true });
    expect(log.of('needs-human')).toHaveLength(1);
    expect(log.lines.join('\n')).not.toContain('Rue Secr');
    expect(log.records().every((r) => r.text === undefined)).toBe(true);
    await graft.close();
  });

  it('puts message and reply text in the records only when logText is set', async () => {
    for (const logText of [false, true]) {
      const log = capture('debug');
      const graft = createGraft({
        store: new MemoryStore(),
        model: new BrainModel(createScriptedBrain([[say('Your parcel goes to Rue Secrète.')]])),
        tools: [],
        deliver: () => undefined,
        logger: log.logger,
        logText,
      });
      await graft.receive({ conversationId: 'c1', messageId: 'm1', text: SECRET });
      await until(async () => (await graft.conversation('c1')).replies.length > 0, 'the reply');
      await graft.idle();
      expect(log.of('message.received')).toHaveLength(1);
      expect(log.of('reply.committed')).toHaveLength(1);
      expect(log.lines.join('\n').includes('Rue Secr'), `logText ${logText}`).toBe(logText);
      expect(log.of('message.received')[0]!.chars).toBe(SECRET.length);
      await graft.close();
    }
  });

  it('logs a failing store once, with the operation and the error', async () => {
    class DownStore extends MemoryStore {
      override append(): Promise<void> {
        return Promise.reject(new RetryableError('SQLite: database is locked', 500, 'SQLITE_BUSY'));
      }
    }
    const log = capture();
    const errors: unknown[] = [];
    const graft = createGraft({
      store: new DownStore(),
      model: downModel,
      tools: [],
      deliver: () => undefined,
      logger: log.logger,
      onError: (e) => errors.push(e),
    });
    await expect(graft.receive({ conversationId: 'c1', messageId: 'm1', text: SECRET })).rejects.toThrow(
      /database is locked/,
    );
    const failed = log.of('store.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      level: 50,
      operation: 'append',
      tenantId: 'default',
      conversationId: 'c1',
      msg: 'store failed',
    });
    expect(failed[0]!.err).toMatchObject({
      type: 'RetryableError',
      message: 'SQLite: database is locked',
      code: 'SQLITE_BUSY',
      kind: 'retryable',
      retryAfterMs: 500,
    });
    expect(log.lines.join('\n')).not.toContain('Rue Secr');
    await graft.close();
  });

  it('logs a failed delivery as it happens, and is silent without a logger', async () => {
    const log = capture();
    let failures = 1;
    const graft = createGraft({
      store: new MemoryStore(),
      model: new BrainModel(createScriptedBrain([[say('Hello!')]])),
      tools: [],
      deliver: () => {
        if (failures-- > 0) throw new Error('webhook answered 502');
      },
      logger: log.logger,
      onError: () => undefined,
    });
    await graft.receive({ conversationId: 'c1', messageId: 'm1', text: 'hi' });
    await until(() => log.of('delivery.failed').length > 0, 'the failed delivery');
    expect(log.of('delivery.failed')[0]).toMatchObject({
      level: 40,
      conversationId: 'c1',
      err: { message: 'webhook answered 502' },
    });
    expect(log.of('background.failed')).toHaveLength(0);
    await graft.close();
  });

  it('takes any logger with the four levels (the port pino satisfies)', () => {
    const seen: string[] = [];
    const logger: Logger = {
      error: (_f, m) => seen.push(m),
      warn: (_f, m) => seen.push(m),
      info: (_f, m) => seen.push(m),
      debug: (_f, m) => seen.push(m),
    };
    const fromPino: Logger = pino({ level: 'silent' });
    expect([logger, fromPino].every((l) => typeof l.warn === 'function')).toBe(true);
  });
});

describe('logs of graft serve', () => {
  let refusing: Server | null = null;
  afterEach(async () => {
    await new Promise<void>((done) => (refusing ? refusing.close(() => done()) : done()));
    refusing = null;
  });

  it('shows at once that the model fails: the failures, the retries and the fallback reply', async () => {
    // A loopback listener that drops every connection: the model is unreachable.
    refusing = createServer((socket) => socket.destroy());
    await new Promise<void>((done) => refusing!.listen(0, '127.0.0.1', done));
    const modelUrl = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/v1`;
    const log = capture();
    const env = { OPENAI_API_KEY: 'sk-fake', OPENAI_BASE_URL: modelUrl };
    const { config } = serveConfig(['--store', 'memory', '--port', '0'], env);
    const running = await startServe(config, { env, logger: log.logger, staticKeys: { k_test: 'acme' } });
    try {
      const posted = await fetch(`${running.url}/v1/conversations/c1/messages`, {
        method: 'POST',
        headers: { authorization: 'Bearer k_test', 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'm1', text: SECRET }),
      });
      expect(posted.status).toBe(202);
      await until(() => log.of('model.failed').length > 0, 'the first model failure', 5_000);
      expect(log.of('model.failed')[0]).toMatchObject({
        level: 40,
        tenantId: 'acme',
        conversationId: 'c1',
        failure: 'retryable',
      });
      await until(() => log.of('reply.fallback').length > 0, 'the fallback reply', 20_000);
      expect(log.of('model.retry').length).toBeGreaterThanOrEqual(1);
      expect(log.of('needs-human')).toHaveLength(1);
      expect(log.lines.join('\n')).not.toContain('Rue Secr');
    } finally {
      await running.close();
    }
  }, 30_000);

  it('reads its level from GRAFT_LOG_LEVEL and refuses an unknown one', () => {
    expect(serveConfig([], { GRAFT_LOG_LEVEL: 'warn' }).config.logLevel).toBe('warn');
    expect(serveConfig(['--log-level', 'debug'], { GRAFT_LOG_LEVEL: 'warn' }).config.logLevel).toBe('debug');
    expect(serveConfig([], { GRAFT_LOG_TEXT: '1' }).config.logText).toBe(true);
    expect(serveConfig([], {}).config).toMatchObject({ logLevel: 'info', logText: false });
    expect(() => createLogger('loud')).toThrow(/GRAFT_LOG_LEVEL/);
    expect(createLogger('silent').level).toBe('silent');
  });
});
