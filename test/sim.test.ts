import { describe, expect, it } from 'vitest';
import { simCommand } from '../src/cli/sim-command.js';
import type { SimResult } from '../src/sim/run.js';
import { runSim, runStrategy } from '../src/sim/run.js';
import { KeyedRandom } from '../src/sim/rng.js';
import { customerScript, doubleTextWorkload } from '../src/sim/workload.js';

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

  it('runs steer and burst, which answer every message and never write twice', async () => {
    const { details } = await runSim({ ...small, conversations: 150, strategies: ['steer', 'burst'] });
    for (const name of ['steer', 'burst']) {
      const { report } = details[name]!;
      expect(report.unansweredMessages, name).toBe(0);
      expect(report.messages, name).toBeGreaterThan(300);
      expect(report.maxRepliesPerTurn, name).toBe(1);
      expect(report.contendedTurns, name).toBeGreaterThan(20);
      // Neither forks: the clerk never writes blind. Both answer some messages late (stale replies).
      expect(report.duplicateEffects + report.missingEffects + report.orphanedEffects, name).toBe(0);
      expect(report.staleReplies, name).toBeGreaterThan(0);
    }
    const again = await runStrategy('steer', { ...small, conversations: 150, strategies: ['steer'] });
    expect(again.historyHash).toBe(details.steer!.historyHash);
  });

  it('draws the double-text workload deterministically, with about 23% of conversations double-texting', () => {
    const draw = (seed: number) =>
      Array.from({ length: 4000 }, (_, c) => customerScript(new KeyedRandom(seed), c, doubleTextWorkload));
    const scripts = draw(1);
    expect(draw(1)).toEqual(scripts);
    const gaps: number[] = [];
    for (const script of scripts) {
      const sizes = [0, 1, 2].map((b) => script.messages.filter((m) => m.burst === b).length);
      expect(sizes.filter((n) => n === 2).length).toBeLessThanOrEqual(1);
      expect(sizes.every((n) => n === 1 || n === 2)).toBe(true);
      const second = script.messages.find((m) => m.index === 1);
      if (second) gaps.push(second.atMs - script.messages.find((m) => m.burst === second.burst)!.atMs);
    }
    const share = gaps.length / scripts.length;
    expect(share).toBeGreaterThan(0.21);
    expect(share).toBeLessThan(0.25);
    gaps.sort((a, b) => a - b);
    const median = gaps[Math.floor(gaps.length / 2)]!;
    expect(median).toBeGreaterThan(9_000);
    expect(median).toBeLessThan(11_000);
  });

  it('finds no violation in graft on the double-text workload', async () => {
    const result = await runStrategy('graft', {
      ...small,
      conversations: 400,
      workload: doubleTextWorkload,
      strategies: ['graft'],
    });
    expect(result.violations).toEqual([]);
    expect(result.report.unansweredMessages).toBe(0);
    expect(result.report.contendedTurns).toBeGreaterThan(0);
  });

  it('selects strategies and workloads by flag (all keeps its seven)', async () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (text: string) => lines.push(text);
    try {
      const args = ['--conversations', '5', '--seed', '3', '--json'];
      expect(await simCommand([...args, '--strategy', 'peers', '--workload', 'double-text'])).toBe(0);
      expect(await simCommand([...args, '--strategy', 'steer,burst'])).toBe(0);
    } finally {
      console.log = log;
    }
    const [peers, pair] = lines.map((l) => JSON.parse(l) as SimResult);
    expect(Object.keys(peers!)).toEqual(['seed', 'conversations', 'workload', 'strategies']);
    expect(peers!.workload).toBe('double-text');
    expect(Object.keys(peers!.strategies)).toEqual(['graft', 'steer', 'burst']);
    expect(Object.keys(pair!)).toEqual(['seed', 'conversations', 'strategies']);
    expect(Object.keys(pair!.strategies)).toEqual(['steer', 'burst']);
  });

  it('rejects bad flags with a usage error', async () => {
    const error = console.error;
    console.error = () => undefined;
    try {
      expect(await simCommand(['--conversations', 'many'])).toBe(2);
      expect(await simCommand(['--strategy', 'magic'])).toBe(2);
      expect(await simCommand(['--strategy', 'steer,magic'])).toBe(2);
      expect(await simCommand(['--workload', 'triple-text'])).toBe(2);
      expect(await simCommand(['--bogus'])).toBe(2);
    } finally {
      console.error = error;
    }
  });
});
