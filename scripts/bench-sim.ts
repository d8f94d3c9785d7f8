/**
 * `npm run bench:sim`: how long the simulator takes for 5,000 conversations of every strategy, in
 * process and through the built `graft sim --strategy all`. The figures go to BENCHMARKS.md.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { STRATEGIES, runStrategy } from '../src/sim/run.js';
import { recordSection } from './benchmarks-file.js';

const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 5_000);
/** The goal, in simulated conversations per second, for every strategy. */
const GOAL_PER_SECOND = 1_000;

async function main(): Promise<void> {
  const rows: string[] = [];
  const rates = new Map<string, number>();
  let totalMs = 0;
  for (const strategy of STRATEGIES) {
    const started = performance.now();
    await runStrategy(strategy, {
      seed: 1,
      conversations: CONVERSATIONS,
      strategies: [strategy],
      faults: false,
    });
    const ms = performance.now() - started;
    totalMs += ms;
    const perSecond = Math.round(CONVERSATIONS / (ms / 1000));
    rates.set(strategy, perSecond);
    rows.push(`| ${strategy} | ${(ms / 1000).toFixed(1)} s | ${perSecond} |`);
    process.stderr.write(`bench:sim: ${strategy} ${(ms / 1000).toFixed(1)} s\n`);
  }
  const cliStarted = performance.now();
  execFileSync(
    process.execPath,
    ['bin/graft.js', 'sim', '--conversations', String(CONVERSATIONS), '--strategy', 'all', '--json'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const cliMs = performance.now() - cliStarted;
  const all = CONVERSATIONS * STRATEGIES.length;
  const section = [
    `## Simulator (\`npm run bench:sim\`)`,
    '',
    `${CONVERSATIONS} conversations per strategy, seed 1, no faults; ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| strategy | time | conversations/s |',
    '| --- | --- | --- |',
    ...rows,
    `| all | ${(totalMs / 1000).toFixed(1)} s | ${Math.round(all / (totalMs / 1000))} |`,
    `| all, through \`graft sim --strategy all\` (built CLI, with start-up) | ${(cliMs / 1000).toFixed(1)} s | ${Math.round(all / (cliMs / 1000))} |`,
    '',
    ...verdict(rates),
  ].join('\n');
  recordSection('sim', section);
  console.log(section);
}

/** Whether each strategy met the goal, from this run's figures, with what bounds graft's speed. */
function verdict(rates: ReadonlyMap<string, number>): string[] {
  const missed = [...rates]
    .filter(([, perSecond]) => perSecond < GOAL_PER_SECOND)
    .map(([strategy]) => strategy);
  const baselines = [...rates].filter(([strategy]) => strategy !== 'graft').map(([, perSecond]) => perSecond);
  const goal = `Goal: ${GOAL_PER_SECOND.toLocaleString('en')} simulated conversations per second, per strategy.`;
  const met =
    missed.length === 0
      ? `Met by every strategy in this run: graft at ${rates.get('graft')}/s, the baselines at ${Math.min(...baselines)}–${Math.max(...baselines)}/s.`
      : `Not met in this run by ${missed.join(', ')}; met by ${STRATEGIES.filter((s) => !missed.includes(s)).join(', ') || 'none'}.`;
  return [
    goal,
    met,
    "graft's runs take longest: its per-event planning, event log and per-call abort controllers",
    '(`src/core`, `src/runtime`) now take more time than the shop clerk and the simulated model, and',
    'garbage collection about a seventh. Worker threads were tried and made it slower on two cores.',
  ];
}

await main();
