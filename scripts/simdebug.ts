// Debugging aid: replays one simulated conversation and prints what happened.
//   SEED=1 WORKLOAD=double-text npx tsx scripts/simdebug.ts 2479 [graft|steer|…] [faults]
import { KeyedRandom } from '../src/sim/rng.js';
import { runChunk } from '../src/sim/run.js';
import type { WorkloadName } from '../src/sim/workload.js';
import { WORKLOADS, customerScript } from '../src/sim/workload.js';

const conv = Number(process.argv[2]);
const strategy = (process.argv[3] ?? 'graft') as 'graft';
const faults = process.argv[4] === 'faults';
const seed = Number(process.env.SEED ?? 1);
const rng = new KeyedRandom(seed);
const script = customerScript(rng, conv, WORKLOADS[(process.env.WORKLOAD ?? 'default') as WorkloadName]);
const [r] = await runChunk(strategy, [script], rng, {
  seed,
  conversations: 1,
  strategies: [strategy],
  faults,
});
console.log('desired', JSON.stringify(script.desired));
for (const m of r!.record.messages)
  console.log('msg', m.at, m.id, JSON.stringify(m.text), m.contended ? 'contended' : '');
for (const c of r!.record.calls)
  console.log(
    'call',
    Math.round(c.at),
    'out',
    c.outputTokens,
    'held',
    [...c.held].join(','),
    'messages',
    c.userTexts.length,
    c.aborted ? 'aborted' : '',
  );
for (const e of r!.record.effects)
  console.log('effect', Math.round(e.startAt), e.tool, e.toolCallId, 'ok', e.ok, 'by', e.requestedBy);
for (const i of r!.shop.invocations())
  console.log('inv', i.tool, JSON.stringify(i.args), i.idempotencyKey, 'changed', i.changed, i.error ?? '');
for (const p of r!.record.replies)
  console.log('reply', Math.round(p.committedAt), p.kind, p.covers.join(','), JSON.stringify(p.text));
console.log(r!.violations);
