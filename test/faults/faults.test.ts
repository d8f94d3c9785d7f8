import { expect, it } from 'vitest';
import { describePostgres, TEST_POSTGRES_URL } from '../postgres.js';
import type { Fault } from './scenario.js';
import { runFault } from './scenario.js';

/**
 * Bursts through graft while the connection to PostgreSQL misbehaves, then healed: graft
 * recovers by itself and keeps every guarantee (the crash checker's criteria). No timing
 * assertions here; `npm run bench:faults` measures the time to recover.
 */
describePostgres('faults between graft and PostgreSQL during bursts', () => {
  const faults: [Fault, string][] = [
    ['stall', 'a proxy that stalls every connection'],
    ['drop', 'a proxy that drops the bytes of every open connection for good'],
    ['reset', 'a proxy that resets every connection, again and again'],
    ['terminate', 'pg_terminate_backend of its connections in a loop'],
  ];
  for (const [fault, what] of faults) {
    it(`recovers from ${what} and keeps every guarantee`, async () => {
      const run = await runFault(TEST_POSTGRES_URL, fault, { seed: 7 });
      console.log(
        `fault ${fault}: ${run.retryable} retryable errors; first append ${run.firstAppendMs} ms and all done ${run.allDoneMs} ms after healing`,
      );
      expect(run.unexpected).toEqual([]);
      expect(run.violations).toEqual([]);
    }, 60_000);
  }
});
