import { describe, expect, it } from 'vitest';
import { simCommand } from '../src/cli/sim-command.js';
import { runSim, runStrategy } from '../src/sim/run.js';

const small = { seed: 7, conversations: 60, faults: false } as const;

describe('the simulator', () => {
  it('gives the same history hash for the same seed, and another for another seed', async () => {
    const a = await runStrategy('graft', { ...small, strategies: ['graft'] });
    const b = await runStrategy('graft', { ...small, strategies: ['graft'], chunk: 7 });
    const c = await runStrategy('graft', { ...small, seed: 8, strategies: ['graft'] });
    expect(a.historyHash).toBe(b.historyHash);
    expect(a.historyHash).not.toBe(c.historyHash);
  });

  it('finds no violation in graft, with and without faults', async () => {
    for (const faults of [false, true]) {
      const result = await runStrategy('graft', {
        ...small,
        conversations: 150,
        faults,
        strategies: ['graft'],
      });
      expect(result.violations).toEqual([]);
      expect(result.report.unansweredMessages).toBe(0);
      expect(result.report.contendedTurns).toBeGreaterThan(20);
    }
  });

  it("catches the other strategies' violations (the checker's own test)", async () => {
    const { details } = await runSim({
      ...small,
      conversations: 150,
      strategies: ['naive', 'naive-abort', 'interrupt', 'rollback', 'debounce', 'enqueue'],
    });
    const guarantees = (name: string) => new Set(details[name]!.violations.map((v) => v.guarantee));
    for (const name of ['naive', 'naive-abort', 'interrupt', 'rollback']) {
      expect(guarantees(name).has(3), `${name} writes blind`).toBe(true);
      expect(guarantees(name).has(4), `${name} orphans effects`).toBe(true);
      expect(details[name]!.report.duplicateEffects + details[name]!.report.missingEffects).toBeGreaterThan(
        0,
      );
    }
    for (const name of ['debounce', 'enqueue']) {
      expect(guarantees(name).has(1), `${name} delays`).toBe(true);
      expect(guarantees(name).has(2), `${name} leaves stale replies`).toBe(true);
    }
  });

  it('prints byte-identical JSON for the same flags', async () => {
    const capture = async () => {
      const lines: string[] = [];
      const log = console.log;
      console.log = (text: string) => lines.push(text);
      try {
        expect(
          await simCommand(['--conversations', '20', '--seed', '3', '--strategy', 'all', '--json']),
        ).toBe(0);
      } finally {
        console.log = log;
      }
      return lines.join('\n');
    };
    const first = await capture();
    expect(await capture()).toBe(first);
    const parsed = JSON.parse(first);
    expect(Object.keys(parsed)).toEqual(['seed', 'conversations', 'strategies']);
    expect(Object.keys(parsed.strategies)).toEqual([
      'graft',
      'naive',
      'naive-abort',
      'debounce',
      'enqueue',
      'interrupt',
      'rollback',
    ]);
    expect(Object.keys(parsed.strategies.graft)).toEqual([
      'duplicateEffects',
      'missingEffects',
      'orphanedEffects',
      'staleReplies',
      'unansweredMessages',
      'repliesPerTurn',
      'maxRepliesPerTurn',
      'followUps',
      'latencyMs',
      'contendedLatencyMs',
      'modelCallsPerTurn',
      'inputTokensPerTurn',
      'outputTokensPerTurn',
      'turns',
      'contendedTurns',
      'messages',
    ]);
  });

  it('rejects bad flags with a usage error', async () => {
    const error = console.error;
    console.error = () => undefined;
    try {
      expect(await simCommand(['--conversations', 'many'])).toBe(2);
      expect(await simCommand(['--strategy', 'magic'])).toBe(2);
      expect(await simCommand(['--bogus'])).toBe(2);
    } finally {
      console.error = error;
    }
  });
});
