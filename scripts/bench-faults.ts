/**
 * `npm run bench:faults`: how long graft takes to recover from each PostgreSQL fault of
 * test/faults (a proxy that stalls, drops or resets connections; pg_terminate_backend in a loop).
 * Each fault runs `--runs` times (default 5, interleaved: stall, drop, reset, terminate, stall, …),
 * each run a burst of conversations through a fault of 1.5 s, then healed; the recovery time is
 * from healing to every message accepted and nothing unfinished, and the run must keep every
 * guarantee (the crash checker's criteria). The goal is a p99 under 5 s. Writes its section of
 * BENCHMARKS.md. PostgreSQL: `GRAFT_BENCH_PG_URL`, else `GRAFT_TEST_PG_URL`, else the local one.
 */
import { parseArgs } from 'node:util';
import type { Fault, FaultRun } from '../test/faults/scenario.js';
import { runFault } from '../test/faults/scenario.js';
import { quantile, recordSection } from './benchmarks-file.js';

const url =
  process.env.GRAFT_BENCH_PG_URL ||
  process.env.GRAFT_TEST_PG_URL ||
  'postgres://postgres@127.0.0.1:5432/test';
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');

const FAULTS: Fault[] = ['stall', 'drop', 'reset', 'terminate'];
const results = new Map<Fault, FaultRun[]>(FAULTS.map((f) => [f, []]));
let failures = 0;
for (let i = 0; i < runs; i += 1) {
  for (const fault of FAULTS) {
    const run = await runFault(url, fault, { seed: 100 + i });
    results.get(fault)!.push(run);
    const bad = run.violations.length + run.unexpected.length;
    failures += bad;
    process.stderr.write(
      `bench:faults: ${fault} run ${i + 1}/${runs}: first append ${run.firstAppendMs ?? '—'} ms, all done ${run.allDoneMs} ms after healing${bad ? `, ${bad} VIOLATIONS: ${[...run.violations, ...run.unexpected].join('; ')}` : ''}\n`,
    );
  }
}

const all = [...results.values()].flat();
const rows = FAULTS.map((fault) => {
  const done = results.get(fault)!.map((r) => r.allDoneMs);
  const first = results.get(fault)!.flatMap((r) => (r.firstAppendMs === null ? [] : [r.firstAppendMs]));
  return `| ${fault} | ${done.length} | ${quantile(first, 0.5)} | ${quantile(done, 0.5)} | ${quantile(done, 0.99)} | ${Math.max(...done)} |`;
});
const p99 = quantile(
  all.map((r) => r.allDoneMs),
  0.99,
);
const section = [
  '## PostgreSQL faults: time to recover (`npm run bench:faults`)',
  '',
  `${new Date().toISOString().slice(0, 10)}, ${runs} runs per fault, interleaved; a burst of 6 conversations through a fault of 1.5 s, then healed; deadlines of the fault tests (query deadline 1.5 s). Recovery: from healing to every message accepted and nothing unfinished. Violations by the crash checker's criteria: ${failures}.`,
  '',
  '| fault | runs | first append p50 ms | recovered p50 ms | recovered p99 ms | max ms |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows,
  '',
  `All faults: recovered p99 ${p99} ms (goal: under 5,000 ms) — ${p99 < 5_000 ? 'met' : '**not met**'}.`,
].join('\n');
recordSection('faults', section);
console.log(section);
process.exitCode = failures > 0 ? 1 : 0;
