// Debugging aid: replays one simulated conversation and prints what happened.
//   SEED=1 WORKLOAD=double-text npx tsx scripts/simdebug.ts 2479 [graft|steer|…] [faults]
//   SEED=593 WORLD=adversarial npx tsx scripts/simdebug.ts 6   (graft's log, the operator's acts, the tools' log)
import type { GraftEvent } from '../src/core/events.js';
import { GraftObserver } from '../src/sim/graft-cluster.js';
import { KeyedRandom } from '../src/sim/rng.js';
import { runAdversarialChunk, runChunk } from '../src/sim/run.js';
import type { WorkloadName } from '../src/sim/workload.js';
import { WORKLOADS, adversarialWorkload, customerScript } from '../src/sim/workload.js';

const conv = Number(process.argv[2]);
const strategy = (process.argv[3] ?? 'graft') as 'graft';
const faults = process.argv[4] === 'faults';
const seed = Number(process.env.SEED ?? 1);
const adversarial = process.env.WORLD === 'adversarial';
const rng = new KeyedRandom(seed);
const workload = adversarial
  ? adversarialWorkload
  : WORKLOADS[(process.env.WORKLOAD ?? 'default') as WorkloadName];
const script = customerScript(rng, conv, workload);

// In the adversarial world, print graft's log as the observer folds it (each seq once).
const log: string[] = [];
if (adversarial) {
  const onEvent = GraftObserver.prototype.onEvent;
  let last = 0;
  GraftObserver.prototype.onEvent = function (this: GraftObserver, event, state) {
    if (event.seq > last) {
      last = event.seq;
      log.push(describeEvent(event));
    }
    onEvent.call(this, event, state);
  };
}
const run = adversarial ? runAdversarialChunk : runChunk;
const [r] = await run(strategy, [script], rng, {
  seed,
  conversations: 1,
  strategies: [strategy],
  faults,
  ...(adversarial ? { world: 'adversarial' as const } : {}),
});
console.log('desired', JSON.stringify(script.desired));
for (const m of script.messages)
  console.log('script', m.atMs, m.id, JSON.stringify(m.text), JSON.stringify(m.intent));
for (const m of r!.record.messages)
  console.log('msg', Math.round(m.at), m.id, JSON.stringify(m.text), m.contended ? 'contended' : '');
for (const line of log) console.log(line);
for (const c of r!.record.calls)
  console.log(
    'call',
    Math.round(c.at),
    c.callId ?? '',
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
for (const i of r!.record.invocations)
  console.log(
    'toollog',
    i.tool,
    i.key,
    i.runner,
    Math.round(i.startAt),
    '->',
    i.endAt === null ? 'running' : Math.round(i.endAt),
    'wrote',
    i.wroteAt === null ? '-' : Math.round(i.wroteAt),
    i.outcome,
    i.fenced ? 'fenced' : '',
  );
for (const a of r!.record.humans?.acts ?? [])
  console.log(
    'act',
    a.kind,
    a.via,
    a.operator,
    a.effectId ?? '',
    a.decision ?? '',
    a.late ? 'late' : '',
    a.outcome,
  );
for (const p of r!.record.replies)
  console.log('reply', Math.round(p.committedAt), p.kind, p.covers.join(','), JSON.stringify(p.text));
console.log('orders', JSON.stringify(r!.shop.orders(script.conversationId)));
console.log('errors', r!.record.errors);
console.log(r!.violations);

function describeEvent(event: GraftEvent): string {
  const head = `ev ${event.seq} ${Math.round(event.at)} ${event.type}`;
  switch (event.type) {
    case 'message.received':
      return `${head} ${event.messageId} ${JSON.stringify(event.text)}`;
    case 'model.requested':
      return `${head} ${event.attemptId} ${event.callId} ${event.reason} parent=${event.parent} entries=${event.entries
        .map((e) =>
          e.messageId
            ? `msg:${e.messageId}`
            : e.effect
              ? `eff:${e.effect.effectId}:${e.effect.status}`
              : e.replyId
                ? `reply:${e.replyId}`
                : e.item.type,
        )
        .join(',')}`;
    case 'model.responded':
      return `${head} ${event.callId} calls=${event.calls
        .map((c) => `${c.name}(${c.arguments})[${c.kind}]`)
        .join(';')} text=${JSON.stringify(
        event.output
          .filter((o) => o.type === 'message')
          .map((o) => JSON.stringify(o).slice(0, 160))
          .join(' '),
      )}`;
    default: {
      const { seq: _s, at: _a, v: _v, type: _t, ...rest } = event as GraftEvent & { v?: number };
      return `${head} ${JSON.stringify(rest).slice(0, 400)}`;
    }
  }
}
