// A bounded sweep of the adversarial world: graft over many seeds, a few conversations each,
// spread over worker threads. Exits 1 naming every failing seed, its first violations and the
// `graft sim` command that replays it; also when, over the whole sweep, graft never reached one
// of the paths the world exists to exercise.
//
//   npm run sim:sweep [-- --seeds 200 --conversations 20 --threads 2 --budget-s 170]
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { replayCommand } from '../src/cli/sim-command.js';
import type { Coverage } from '../src/sim/coverage.js';
import { addCoverage, emptyCoverage, missingCoverage } from '../src/sim/coverage.js';
import type { Violation } from '../src/sim/invariants.js';
import { runStrategy } from '../src/sim/run.js';

interface SeedTask {
  seed: number;
  conversations: number;
}

interface SeedResult {
  seed: number;
  violations: Violation[];
  count: number;
  coverage: Coverage;
}

const SHOWN_PER_SEED = 3;

if (isMainThread) await sweep();
else serveSeeds();

/** A worker: runs each seed it is sent and answers with its first violations and coverage. */
function serveSeeds(): void {
  parentPort!.on('message', (task: SeedTask) => {
    void runStrategy('graft', {
      seed: task.seed,
      conversations: task.conversations,
      strategies: ['graft'],
      faults: false,
      world: 'adversarial',
    }).then((r) => {
      const result: SeedResult = {
        seed: task.seed,
        violations: r.violations.slice(0, SHOWN_PER_SEED),
        count: r.violations.length,
        coverage: r.coverage!,
      };
      parentPort!.postMessage(result);
    });
  });
}

async function sweep(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string', default: '200' },
      conversations: { type: 'string', default: '20' },
      threads: { type: 'string', default: String(availableParallelism()) },
      'budget-s': { type: 'string', default: '170' },
    },
  });
  const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
  const conversations = Number(values.conversations);
  const deadline = Date.now() + Number(values['budget-s']) * 1_000;
  const started = Date.now();
  const results = await runPool(
    seeds,
    conversations,
    Math.max(1, Number(values.threads)),
    deadline,
    (done) => {
      if (done % 10 === 0 || done === seeds.length)
        console.log(
          `sim:sweep ${done}/${seeds.length} seeds (${((Date.now() - started) / 1000).toFixed(0)} s)`,
        );
    },
  );
  report(results, seeds.length, conversations);
}

/** Runs the seeds over a pool of workers, stopping new seeds at the deadline. */
async function runPool(
  seeds: number[],
  conversations: number,
  threads: number,
  deadline: number,
  onDone: (done: number) => void,
): Promise<SeedResult[]> {
  const queue = [...seeds];
  const results: SeedResult[] = [];
  const worker = () =>
    new Worker(
      `import('tsx/esm/api').then((tsx) => tsx.register()).then(() => import(${JSON.stringify(import.meta.url)}))`,
      { eval: true },
    );
  await Promise.all(
    Array.from({ length: Math.min(threads, seeds.length) }, async () => {
      const w = worker();
      try {
        for (let seed = queue.shift(); seed !== undefined && Date.now() < deadline; seed = queue.shift()) {
          results.push(await ask(w, { seed, conversations }));
          onDone(results.length);
        }
      } finally {
        await w.terminate();
      }
    }),
  );
  return results.sort((a, b) => a.seed - b.seed);
}

function ask(worker: Worker, task: SeedTask): Promise<SeedResult> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    worker.once('message', (result: SeedResult) => {
      worker.off('error', onError);
      resolve(result);
    });
    worker.once('error', onError);
    worker.postMessage(task);
  });
}

function report(results: SeedResult[], planned: number, conversations: number): void {
  const failing = results.filter((r) => r.count > 0);
  for (const r of failing) {
    console.log(
      `\nseed ${r.seed}: ${r.count} violations; replay: npx graft sim --world adversarial --strategy graft --seed ${r.seed} --conversations ${conversations}`,
    );
    for (const v of r.violations) console.log(`  ${v.conversationId}: guarantee ${v.guarantee}: ${v.detail}`);
    console.log(
      `  alone: ${replayCommand({ seed: r.seed, world: 'adversarial', faults: false }, r.violations[0]!.conversationId)}`,
    );
  }
  const coverage = emptyCoverage();
  for (const r of results) addCoverage(coverage, r.coverage);
  const swept = results.length * conversations;
  console.log(
    `\ncoverage over ${swept} conversations: ${Object.entries(coverage)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  const uncovered = missingCoverage(coverage, swept);
  for (const name of uncovered) console.log(`coverage: ${name} is 0 over the whole sweep`);
  if (results.length < planned)
    console.log(`time budget reached: ${results.length} of ${planned} seeds swept`);
  console.log(
    `${failing.length === 0 ? 'ok' : 'FAILED'}: ${failing.length} of ${results.length} seeds with violations`,
  );
  process.exitCode = failing.length > 0 || uncovered.length > 0 ? 1 : 0;
}
