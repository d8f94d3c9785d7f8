import { Worker } from 'node:worker_threads';
import { addCoverage } from './coverage.js';
import { addFigures, emptyFigures, report } from './metrics.js';
import type { RangeResult, SimOptions, Strategy, StrategyResult } from './run.js';
import { historyHashOf } from './run.js';

/** What a simulation worker is given (the options without their callback). */
export interface WorkerTask {
  strategy: Strategy;
  options: Omit<SimOptions, 'onProgress'>;
  range: [number, number];
}

/** What a simulation worker posts: progress (conversations done so far), then its result. */
export type WorkerMessage = { done: number } | { result: RangeResult };

/**
 * Runs one strategy over `threads` worker threads, each a contiguous range of conversations.
 * Conversations are independent (keyed randomness, a shop and a store each), so the merged result
 * is exactly the one-thread result: the same figures, violations in the same order, the same
 * history hash.
 */
export async function runStrategyParallel(
  strategy: Strategy,
  options: SimOptions,
  threads: number,
): Promise<StrategyResult> {
  const n = options.conversations;
  const first = options.first ?? 0;
  const parts = Math.max(1, Math.min(threads, n));
  const ranges = Array.from({ length: parts }, (_, i): [number, number] => [
    first + Math.floor((i * n) / parts),
    first + Math.floor(((i + 1) * n) / parts),
  ]);
  const done = ranges.map(() => 0);
  const { onProgress, ...plain } = options;
  const results = await Promise.all(
    ranges.map((range, i) =>
      runWorker({ strategy, options: plain, range }, (count) => {
        done[i] = count;
        onProgress?.(
          strategy,
          done.reduce((a, b) => a + b, 0),
          n,
        );
      }),
    ),
  );
  return merge(results);
}

function merge(parts: readonly RangeResult[]): StrategyResult {
  const total = emptyFigures();
  const merged: RangeResult = { total, violations: [], hashes: [], coverage: null };
  for (const part of parts) {
    addFigures(total, part.total);
    merged.violations.push(...part.violations);
    merged.hashes.push(...part.hashes);
    if (part.coverage)
      merged.coverage = merged.coverage
        ? (addCoverage(merged.coverage, part.coverage), merged.coverage)
        : { ...part.coverage };
  }
  return {
    report: report(total),
    violations: merged.violations,
    historyHash: historyHashOf(merged.hashes),
    coverage: merged.coverage,
  };
}

/**
 * Runs a task in a worker thread: this module's sibling `sim-worker`, compiled (`.js`), or under
 * tsx the source (`.ts`), which the worker loads after registering tsx itself (tsx's loader flags
 * do not carry over to worker threads).
 */
function runWorker(task: WorkerTask, onProgress: (done: number) => void): Promise<RangeResult> {
  const worker = import.meta.url.endsWith('.ts')
    ? new Worker(
        `import('tsx/esm/api').then((tsx) => tsx.register()).then(() => import(${JSON.stringify(new URL('./sim-worker.ts', import.meta.url).href)}))`,
        { eval: true, workerData: task },
      )
    : new Worker(new URL('./sim-worker.js', import.meta.url), { workerData: task });
  return new Promise((resolve, reject) => {
    let result: RangeResult | null = null;
    worker.on('message', (message: WorkerMessage) => {
      if ('done' in message) onProgress(message.done);
      else result = message.result;
    });
    worker.on('error', reject);
    worker.on('exit', (code) =>
      result
        ? resolve(result)
        : reject(new Error(`simulation worker exited with code ${code} and no result`)),
    );
  });
}
