import fc from 'fast-check';
import { describe, it } from 'vitest';
import { hostileModelProperty } from './model-check.js';

const RUNS = Number(process.env.GRAFT_FUZZ_MODEL_RUNS ?? 300);

describe('fuzzing hostile model output', () => {
  it('runs a tool only as the model called it with arguments its schema accepts, and a write once per key', async () => {
    await fc.assert(hostileModelProperty(), { numRuns: RUNS, seed: 7 });
  });
});
