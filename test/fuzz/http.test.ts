/**
 * Fuzzes every route, header and body of the service in-process (5,000+ requests here; `npm run
 * fuzz` sends 100,000+). See test/fuzz/http-check.ts for what an answer must be.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyStats, httpProperty, writtenTwice } from './http-check.js';
import { fuzzWorld, type FuzzWorld } from './world.js';

const RUNS = Number(process.env.GRAFT_FUZZ_TEST_RUNS ?? 2_600);

describe('fuzzing the HTTP service', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeAll(() => void process.on('unhandledRejection', onUnhandled));
  afterAll(() => void process.off('unhandledRejection', onUnhandled));

  for (const signing of [false, true]) {
    describe(signing ? 'with inbound signing' : 'without inbound signing', () => {
      let world: FuzzWorld;
      beforeAll(async () => {
        world = await fuzzWorld({
          seed: signing ? 2 : 1,
          inboundSecret: signing ? 'in-secret' : null,
        });
      });
      afterAll(() => world.close());

      it('answers every request without a 5xx, a leak of tenant B or malformed error JSON', async () => {
        const stats = emptyStats();
        await fc.assert(httpProperty(world, stats), { numRuns: RUNS, seed: signing ? 42 : 41 });
        await world.service.idle();
        expect(unhandled).toEqual([]);
        expect(writtenTwice(world)).toEqual([]);
        // The inputs reach past the gates: messages accepted, conversations read, store faults met.
        expect(stats.byStatus.get(202) ?? 0).toBeGreaterThan(50);
        expect(stats.byStatus.get(200) ?? 0).toBeGreaterThan(50);
        expect(stats.byStatus.get(503) ?? 0).toBeGreaterThan(10);
        expect(stats.requests - stats.unsendable).toBeGreaterThan(RUNS * 0.9);
      });
    });
  }
});
