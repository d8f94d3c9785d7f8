/**
 * `npm run fuzz`: 100,000+ fuzzed HTTP requests against the service (two worlds, with and without
 * inbound signing; store faults on some requests) and hostile model scripts against graft, with
 * a progress line and a summary. `--runs N` (or GRAFT_FUZZ_RUNS) sets the HTTP requests,
 * `--seed S` replays a run, `--signing` fuzzes only the signing world.
 */
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { emptyStats, httpProperty, writtenTwice } from '../test/fuzz/http-check.js';
import { hostileModelProperty } from '../test/fuzz/model-check.js';
import { fuzzWorld } from '../test/fuzz/world.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string' },
    'model-runs': { type: 'string' },
    seed: { type: 'string' },
    signing: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs ?? process.env.GRAFT_FUZZ_RUNS ?? 100_000);
const modelRuns = Number(values['model-runs'] ?? Math.max(100, Math.round(runs / 50)));
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
if (!Number.isSafeInteger(runs) || runs < 1 || !Number.isSafeInteger(seed)) {
  console.error('usage: npm run fuzz -- [--runs N] [--model-runs N] [--seed S] [--signing]');
  process.exit(2);
}

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

const started = Date.now();
const stats = emptyStats();
const progress = setInterval(() => {
  const s = (Date.now() - started) / 1000;
  process.stderr.write(`\rfuzz: ${stats.requests.toLocaleString('en')} requests, ${s.toFixed(0)} s   `);
}, 500);

const failures: string[] = [];
const worlds = values.signing ? [true] : [false, true];
for (const signing of worlds) {
  const world = await fuzzWorld({
    seed,
    inboundSecret: signing ? 'in-secret' : null,
  });
  const result = await fc.check(httpProperty(world, stats), {
    numRuns: Math.ceil(runs / worlds.length),
    seed,
  });
  await world.service.idle();
  if (result.failed) failures.push(`HTTP (signing: ${signing}): ${fc.defaultReportMessage(result) ?? ''}`);
  for (const key of writtenTwice(world))
    failures.push(`HTTP (signing: ${signing}): the write ${key} ran twice`);
  await world.close();
}
const model = await fc.check(hostileModelProperty(), { numRuns: modelRuns, seed });
if (model.failed) failures.push(`hostile model: ${fc.defaultReportMessage(model) ?? ''}`);
clearInterval(progress);

const seconds = (Date.now() - started) / 1000;
const sorted = <K>(m: Map<K, number>): Record<string, number> =>
  Object.fromEntries([...m].sort((a, b) => b[1] - a[1])) as Record<string, number>;
console.error('');
console.log(`fuzz: seed ${seed}, ${seconds.toFixed(1)} s`);
console.log(
  `HTTP: ${stats.requests.toLocaleString('en')} requests (${stats.unsendable} no HTTP client can send), ${Math.round(stats.requests / seconds)}/s`,
);
console.log(`  statuses: ${JSON.stringify(sorted(stats.byStatus))}`);
console.log(`  error codes: ${JSON.stringify(sorted(stats.byCode))}`);
console.log(`hostile model: ${modelRuns.toLocaleString('en')} scripted conversations`);
if (unhandled.length > 0)
  failures.push(`${unhandled.length} unhandled rejection(s): ${String(unhandled[0])}`);
if (failures.length > 0) {
  console.log(`FAILED (replay with --seed ${seed}):\n${failures.join('\n\n')}`);
  process.exit(1);
}
console.log(
  'OK: no 5xx but 503 under store faults, no leak between tenants, every error well formed, no unsafe tool run',
);
