import postgres from 'postgres';
import { expect, it } from 'vitest';
import { createPostgresShop } from '../../src/demo/shop/sql-shop.js';
import type { DesiredOrder } from '../../src/demo/clerk/language.js';
import { applyIntent } from '../../src/demo/clerk/language.js';
import { KeyedRandom } from '../../src/sim/rng.js';
import { customerScript } from '../../src/sim/workload.js';
import { openStore } from '../../src/store/index.js';
import { checkDatabase } from './checker.js';
import type { Instance } from './spawn.js';
import { startInstance } from './spawn.js';
import { testTables } from './tables.js';
import { describePostgres, TEST_POSTGRES_URL } from '../postgres.js';

const PG_URL = TEST_POSTGRES_URL;

const debug = (text: string) => {
  if (process.env.GRAFT_DEBUG) console.error(`mi: ${text}`);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function scenario(
  notify: boolean,
): Promise<{ violations: string[]; errors: string[]; killedMidTurn: boolean }> {
  const admin = postgres(PG_URL, { max: 1, onnotice: () => undefined });
  const database = `graft_mi_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  await admin.unsafe(`CREATE DATABASE ${database}`);
  const url = new URL(PG_URL);
  url.pathname = `/${database}`;
  const spec = url.toString();
  const instances: Instance[] = [];
  try {
    const env = { STORE: spec, POLL_MS: '100', LEASE_MS: '1000', NOTIFY: notify ? '1' : '0' };
    for (const name of ['a', 'b', 'c']) instances.push(await startInstance(name, env));
    debug('instances ready');
    const store = await openStore(spec);
    if (store.kind !== 'postgres') throw new Error('expected PostgreSQL');
    const rng = new KeyedRandom(notify ? 21 : 22);
    const scripts = Array.from({ length: 8 }, (_, c) => customerScript(rng, c));
    const desired = new Map<string, DesiredOrder>();
    let killedMidTurn = false;
    for (let burst = 0; burst < 3; burst += 1) {
      const sends = scripts.map(async (script, c) => {
        const messages = script.messages.filter((m) => m.burst === burst);
        for (const [i, m] of messages.entries()) {
          if (i > 0) await sleep(Math.min(500, (m.atMs - messages[i - 1]!.atMs) / 8));
          // The channel retries a message that no instance acknowledged, on another instance.
          for (let attempt = 0; ; attempt += 1) {
            const alive = instances.filter((x) => x.alive);
            const to = alive[Math.floor(rng.uniform('route', c, m.id, attempt) * alive.length)]!;
            debug(`send ${script.conversationId}/${m.id} to ${to.name}`);
            const status = await to.send({
              conversationId: script.conversationId,
              messageId: m.id,
              text: m.text,
            });
            debug(`${status} ${script.conversationId}/${m.id} by ${to.name}`);
            if (status !== 'lost') break;
          }
        }
        desired.set(
          script.conversationId,
          script.messages
            .filter((m) => m.burst <= burst)
            .reduce<DesiredOrder>((d, m) => applyIntent(d, m.intent), null),
        );
      });
      if (burst === 0) {
        // Kill one instance mid-turn: the others must take its attempts and writes over.
        await sleep(350);
        killedMidTurn = (await store.unfinished()).length > 0;
        instances[0]!.kill();
        debug('killed a');
      }
      await Promise.all(sends);
      debug(`burst ${burst} sent`);
      for (const started = Date.now(); (await store.unfinished()).length > 0; await sleep(100)) {
        if (Date.now() - started > 60_000)
          throw new Error(`burst ${burst} did not settle: ${JSON.stringify(await store.unfinished())}`);
      }
    }
    const violations = await checkDatabase(
      store,
      await testTables(store),
      await createPostgresShop(store.sql),
      desired,
    );
    await Promise.all(instances.filter((x) => x.alive).map((x) => x.quit()));
    await store.close();
    return { violations, errors: instances.flatMap((x) => x.errors), killedMidTurn };
  } finally {
    for (const x of instances) if (x.alive) x.kill();
    await sleep(200);
    if (process.env.GRAFT_KEEP_DB) console.error(`kept database ${database}`);
    else await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}

describePostgres('several instances on one PostgreSQL', () => {
  for (const notify of [true, false]) {
    it(`keeps every guarantee with messages spread over 3 instances, one killed mid-turn (NOTIFY ${notify ? 'on' : 'off'})`, async () => {
      const { violations, errors, killedMidTurn } = await scenario(notify);
      console.log(
        `multi-instance (NOTIFY ${notify ? 'on' : 'off'}): killed mid-turn: ${killedMidTurn}; violations: ${violations.length}`,
      );
      expect(errors).toEqual([]);
      expect(killedMidTurn).toBe(true);
      expect(violations).toEqual([]);
    }, 180_000);
  }
});
