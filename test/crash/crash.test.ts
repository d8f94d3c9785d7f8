import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSqliteShop } from '../../src/demo/shop/sql-shop.js';
import type { DesiredOrder } from '../../src/demo/clerk/language.js';
import { applyIntent } from '../../src/demo/clerk/language.js';
import { KeyedRandom } from '../../src/sim/rng.js';
import { customerScript } from '../../src/sim/workload.js';
import { openStore } from '../../src/store/index.js';
import { checkDatabase } from './checker.js';
import { runChild } from './spawn.js';
import { testTables } from './tables.js';

const CYCLES = Number(process.env.GRAFT_CRASH_CYCLES ?? 54);
const POINTS = [
  'before-append',
  'model-call',
  'effect-started',
  'tool-ran',
  'reply-committed',
  'random',
] as const;
/** `GRAFT_CRASH_POINTS=random` (a comma list) cycles through only those points. */
const CYCLE_POINTS = process.env.GRAFT_CRASH_POINTS?.split(',') ?? POINTS;

/** The child's last lines, with what it said about conversations left unfinished. */
const outcome = (lines: string[]) =>
  [...lines.filter((l) => l.startsWith('diagnose') || l.startsWith('error')), ...lines.slice(-3)].join(' | ');

describe('crash safety (SIGKILL, SQLite)', () => {
  it(`keeps every guarantee through ${CYCLES} kill -9 cycles`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graft-crash-'));
    const storeSpec = `sqlite:${join(dir, 'graft.db')}`;
    const rng = new KeyedRandom(Number(process.env.GRAFT_CRASH_SEED ?? 11));
    const conversations = Math.ceil(CYCLES / 3);
    const scripts = Array.from({ length: conversations }, (_, c) => customerScript(rng, c));
    const desired = new Map<string, DesiredOrder>();
    const hits = new Map<string, number>();
    const stuck: string[] = [];
    let kills = 0;
    for (let cycle = 0; cycle < CYCLES; cycle += 1) {
      const script = scripts[cycle % conversations]!;
      const burst = Math.floor(cycle / conversations);
      const messages = script.messages.filter((m) => m.burst === burst);
      const sent = script.messages.filter((m) => m.burst <= burst);
      desired.set(
        script.conversationId,
        sent.reduce<DesiredOrder>((d, m) => applyIntent(d, m.intent), null),
      );
      const payload = JSON.stringify(
        messages.map((m, i) => ({
          conversationId: script.conversationId,
          messageId: m.id,
          text: m.text,
          gapMs: i === 0 ? 0 : Math.min(600, Math.round((m.atMs - messages[i - 1]!.atMs) / 8)),
        })),
      );
      const point = CYCLE_POINTS[cycle % CYCLE_POINTS.length]!;
      const crash =
        point === 'random'
          ? await runChild(
              { STORE: storeSpec, SCRIPT: payload },
              300 + Math.floor(rng.uniform('kill', cycle) * 1_500),
            )
          : await runChild({
              STORE: storeSpec,
              SCRIPT: payload,
              CRASH_POINT: point,
              CRASH_HIT: String(1 + (Math.floor(cycle / POINTS.length) % 2)),
            });
      if (crash.signal === 'SIGKILL') {
        kills += 1;
        const at = crash.lines.find((l) => l.startsWith('crash '))?.slice(6) ?? 'random time';
        hits.set(at, (hits.get(at) ?? 0) + 1);
        // Every other lost write (a first one, so there is one to check): the recovery dies too,
        // while it asks the shop how the write ended, and a third process must finish the check.
        const lostWrite =
          (point === 'effect-started' || point === 'tool-ran') && Math.floor(cycle / POINTS.length) % 2 === 0;
        let recovery = await runChild({
          STORE: storeSpec,
          SCRIPT: payload,
          ...(lostWrite ? { CRASH_POINT: 'reconciling' } : {}),
        });
        if (recovery.signal === 'SIGKILL') {
          hits.set('reconciling', (hits.get('reconciling') ?? 0) + 1);
          recovery = await runChild({ STORE: storeSpec, SCRIPT: payload });
        }
        if (recovery.code !== 0)
          stuck.push(`cycle ${cycle}: recovery exited ${recovery.code}: ${outcome(recovery.lines)}`);
      } else if (crash.code !== 0) {
        stuck.push(`cycle ${cycle}: exited ${crash.code}: ${outcome(crash.lines)}`);
      }
      // A conversation left unfinished stays unfinished in every later cycle: stop at the first.
      if (stuck.length > 0) break;
    }
    const store = await openStore(storeSpec);
    if (store.kind !== 'sqlite') throw new Error('expected SQLite');
    const violations = await checkDatabase(
      store,
      await testTables(store),
      createSqliteShop(store.database),
      desired,
    );
    await store.close();
    console.log(
      `crash test: ${CYCLES} cycles, ${kills} kills; crash points hit: ${JSON.stringify(Object.fromEntries(hits))}; violations: ${violations.length}`,
    );
    rmSync(dir, { recursive: true, force: true });
    expect(stuck).toEqual([]);
    expect(violations).toEqual([]);
    if (CYCLE_POINTS === POINTS) {
      expect(kills).toBeGreaterThanOrEqual(CYCLES / 2);
      for (const point of [...POINTS.slice(0, 5), 'reconciling'])
        expect(hits.get(point) ?? 0, `crash point ${point} was never hit`).toBeGreaterThan(0);
    }
  }, 900_000);
});
