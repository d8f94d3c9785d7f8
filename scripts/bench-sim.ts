/**
 * `npm run bench:sim`: how long the simulator takes for 5,000 conversations of every strategy, in
 * process and through the built `graft sim --strategy all`. The figures go to BENCHMARKS.md.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { STRATEGIES, runStrategy } from '../src/sim/run.js';
import { recordSection } from './benchmarks-file.js';

const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 5_000);

async function main(): Promise<void> {
  const rows: string[] = [];
  let totalMs = 0;
  for (const strategy of STRATEGIES) {
    const started = performance.now();
    await runStrategy(strategy, { seed: 1, conversations: CONVERSATIONS, strategies: [strategy], faults: false });
    const ms = performance.now() - started;
    totalMs += ms;
    rows.push(`| ${strategy} | ${(ms / 1000).toFixed(1)} s | ${Math.round(CONVERSATIONS / (ms / 1000))} |`);
    process.stderr.write(`bench:sim: ${strategy} ${(ms / 1000).toFixed(1)} s\n`);
  }
  const cliStarted = performance.now();
  execFileSync(process.execPath, ['bin/graft.js', 'sim', '--conversations', String(CONVERSATIONS), '--strategy', 'all', '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
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
    "Goal: 1,000 simulated conversations per second. Not met by graft (nor by every baseline): graft's",
    'runs take longest, as its per-event planning and event log come on top of the shop clerk re-reading',
    'the whole context on every call; garbage collection takes the second core (worker threads were',
    'tried and made it slower).',
  ].join('\n');
  recordSection('sim', section);
  console.log(section);
}

await main();
