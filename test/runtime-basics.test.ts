import { describe, expect, it } from 'vitest';
import { callTool, createScriptedBrain, say } from '../src/model/scripted-brain.js';
import { harness, slowTool } from './harness.js';

describe('the runtime on a scripted model', () => {
  it('answers one message with one reply', async () => {
    const h = harness({ brain: createScriptedBrain([[say('Hello!')]]) });
    h.sendAt(0, 'm1', 'hi');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(h.delivered.map((d) => d.text)).toEqual(['Hello!']);
    expect(h.delivered[0]!.covers).toEqual(['m1']);
  });

  it('runs a write tool, then replies with its result in context', async () => {
    const brain = createScriptedBrain([[callTool('create_order', { item: 'pizza' })], [say('Order placed.')]]);
    let runs: unknown[] = [];
    const h = harness({
      brain,
      tools: (clock) => {
        const create = slowTool(clock, 'create_order', 200);
        runs = create.runs;
        return [create.tool];
      },
    });
    h.sendAt(0, 'm1', 'pizza please');
    await h.clock.run();
    expect(h.errors).toEqual([]);
    expect(runs).toHaveLength(1);
    expect(h.delivered.map((d) => d.text)).toEqual(['Order placed.']);
    const output = brain.calls[1]!.input.find((i) => i.type === 'function_call_output');
    expect(output).toMatchObject({ output: expect.stringContaining('"run":1') });
    expect(h.clock.now()).toBe(700 + 200 + 700);
  });
});
