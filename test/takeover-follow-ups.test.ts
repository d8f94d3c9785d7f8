import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import type { BrainRequest } from '../src/core/brain.js';
import { defineTool } from '../src/tools/define-tool.js';
import type { VirtualClock } from '../src/sim/virtual-clock.js';
import { harness } from './harness.js';

/**
 * A takeover that lands while a follow-up turn is under way supersedes it, and a person's replies
 * are not the model's: after the release the bot still owes the customer the news of a write that
 * settled after its reply (guarantee 4). Found by the adversarial simulator (seed 593, conv_6): the
 * customer asked to cancel while an update ran, the bot answered "I'm updating it, I'll confirm",
 * the update settled, the takeover aborted the follow-up, and after the release nothing followed.
 */

const outputsOf = (r: BrainRequest) =>
  r.input.flatMap((i) => (i.type === 'function_call_output' ? [i.output] : []));

/** An `add` write that runs for `latencyMs` and records every run. */
function tools(runs: string[], latencyMs: number) {
  return (clock: VirtualClock) => [
    defineTool({
      name: 'add',
      description: 'add an item',
      parameters: z.object({ item: z.string() }),
      effect: 'write',
      async run({ item }) {
        runs.push(`add ${item}`);
        await clock.sleep(latencyMs);
        return { added: item };
      },
    }),
  ];
}

/**
 * Asks for the write once; says it is being added while the context shows it running; confirms
 * once the context shows it done. Whatever the call, so aborted calls do not upset a script.
 */
function brain(requests: BrainRequest[]) {
  return (r: BrainRequest) => {
    requests.push(r);
    const outputs = outputsOf(r).join();
    if (outputs.includes('"added":"cola"'))
      return [{ type: 'message' as const, text: 'Your cola is added.' }];
    if (outputs.length > 0) return [{ type: 'message' as const, text: 'Adding your cola now.' }];
    return [{ type: 'function_call' as const, name: 'add', arguments: '{"item":"cola"}' }];
  };
}

/**
 * m1 asks for the write (it starts at 700 and runs 10 s); m2 at 1 s supersedes the attempt, whose
 * successor replies while the write runs (the reply gate waits 1 s); the write settles at 10.7 s
 * and a follow-up call starts; the person takes the conversation over during that call.
 */
function scene(runs: string[], requests: BrainRequest[]) {
  const h = harness({
    brain: brain(requests),
    tools: tools(runs, 10_000),
    graft: { limits: { replyWaitMs: 1_000 } },
  });
  h.sendAt(0, 'm1', 'Add a cola.');
  h.sendAt(1_000, 'm2', 'Is it done?');
  h.clock.setTimer(11_000, () => void h.graft.takeOver('c1', 'ana'));
  return h;
}

describe('follow-ups across a takeover', () => {
  it('follows up after the release when the takeover aborted the follow-up call', async () => {
    const runs: string[] = [];
    const requests: BrainRequest[] = [];
    const h = scene(runs, requests);
    await h.clock.run(20_000);
    expect(runs).toEqual(['add cola']);
    expect(h.delivered.map((d) => d.text)).toEqual(['Adding your cola now.']);
    expect(h.events.filter((e) => e.type === 'attempt.started').map((e) => e.reason)).toEqual([
      'message',
      'message',
      'follow-up',
    ]);
    await h.graft.release('c1');
    await h.clock.run();
    expect(h.delivered.map((d) => [d.kind, d.text])).toEqual([
      ['reply', 'Adding your cola now.'],
      ['follow-up', 'Your cola is added.'],
    ]);
    expect(runs).toEqual(['add cola']);
  });

  it('follows up after the release even though the person replied meanwhile', async () => {
    const runs: string[] = [];
    const requests: BrainRequest[] = [];
    const h = scene(runs, requests);
    await h.clock.run(20_000);
    await h.graft.operatorReply('c1', 'Hi, this is Ana. I am looking at your order.');
    await h.clock.run(30_000);
    await h.graft.release('c1');
    await h.clock.run();
    expect(h.delivered.map((d) => [d.kind, d.text])).toEqual([
      ['reply', 'Adding your cola now.'],
      ['operator', 'Hi, this is Ana. I am looking at your order.'],
      ['follow-up', 'Your cola is added.'],
    ]);
    // The follow-up's context holds what the person said, and the write once.
    const last = requests.at(-1)!;
    expect(JSON.stringify(last.input)).toContain('I am looking at your order.');
    expect(runs).toEqual(['add cola']);
  });

  it('does not follow up again after the release when the follow-up was delivered before the takeover', async () => {
    const runs: string[] = [];
    const requests: BrainRequest[] = [];
    const h = harness({
      brain: brain(requests),
      tools: tools(runs, 10_000),
      graft: { limits: { replyWaitMs: 1_000 } },
    });
    h.sendAt(0, 'm1', 'Add a cola.');
    h.sendAt(1_000, 'm2', 'Is it done?');
    h.clock.setTimer(15_000, () => void h.graft.takeOver('c1', 'ana'));
    await h.clock.run(20_000);
    await h.graft.operatorReply('c1', 'Anything else?');
    await h.graft.release('c1');
    await h.clock.run();
    expect(h.delivered.map((d) => [d.kind, d.text])).toEqual([
      ['reply', 'Adding your cola now.'],
      ['follow-up', 'Your cola is added.'],
      ['operator', 'Anything else?'],
    ]);
  });
});
