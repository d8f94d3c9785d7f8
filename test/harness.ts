import { z } from 'zod';
import { createMemoryShop } from '../src/demo/shop/shop.js';
import { createShopTools, type ShopToolOptions } from '../src/demo/shop/tools.js';
import type { Brain } from '../src/core/brain.js';
import type { GraftEvent } from '../src/core/events.js';
import type { Clock, Delivery } from '../src/core/ports.js';
import { BrainModel } from '../src/model/brain-model.js';
import type { GraftOptions } from '../src/runtime/graft.js';
import { createGraft } from '../src/runtime/graft.js';
import { VirtualClock } from '../src/sim/virtual-clock.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';
import type { ToolDefinition } from '../src/tools/define-tool.js';
import { defineTool } from '../src/tools/define-tool.js';

export interface HarnessOptions {
  brain: Brain;
  tools?: (clock: VirtualClock) => ToolDefinition<any>[];
  modelLatencyMs?: number | ((call: number) => number);
  graft?: Partial<GraftOptions>;
}

/** graft on virtual time, with an in-process model, recording everything it does. */
export function harness(options: HarnessOptions) {
  const clock = new VirtualClock(0);
  const store = new MemoryStore();
  const delivered: Delivery[] = [];
  const events: GraftEvent[] = [];
  let calls = 0;
  const latency = options.modelLatencyMs ?? 700;
  const model = new BrainModel(options.brain, {
    clock,
    latencyMs: () => {
      calls += 1;
      return typeof latency === 'function' ? latency(calls) : latency;
    },
  });
  const errors: unknown[] = [];
  const graft = createGraft({
    store,
    model,
    tools: options.tools?.(clock) ?? [],
    clock,
    instanceId: 'test',
    deliver: (d) => {
      delivered.push(d);
    },
    onEvent: (_c, e) => events.push(e),
    onError: (e) => errors.push(e),
    ...options.graft,
  });
  return {
    clock,
    store,
    graft,
    model,
    delivered,
    events,
    errors,
    /** Sends a message at virtual time `atMs`. */
    sendAt(atMs: number, messageId: string, text: string, conversationId = 'c1') {
      clock.setTimer(atMs, () => {
        void graft.receive({ conversationId, messageId, text });
      });
    },
    types: () => events.map((e) => e.type),
  };
}

/** A write tool that takes `latencyMs` of virtual time and records every run. */
export function slowTool(
  clock: VirtualClock,
  name: string,
  latencyMs: number | (() => number),
  effect: 'read' | 'write' = 'write',
  runs: { args: unknown; key: string | null; at: number }[] = [],
) {
  const tool = defineTool({
    name,
    description: `the ${name} tool`,
    parameters: z.object({ item: z.string().optional(), n: z.number().int().positive().optional() }),
    effect,
    async run(args, ctx) {
      runs.push({ args, key: ctx.idempotencyKey, at: clock.now() });
      await clock.sleep(typeof latencyMs === 'function' ? latencyMs() : latencyMs);
      return { ok: true, tool: name, args, run: runs.length };
    },
  });
  return { tool, runs };
}

/** One `slowTool` for `harness({ tools })`, with its runs readable from outside. */
export function recordedTool(name: string, latencyMs: number, effect: 'read' | 'write' = 'write') {
  const runs: { args: unknown; key: string | null; at: number }[] = [];
  return { runs, tools: (clock: VirtualClock) => [slowTool(clock, name, latencyMs, effect, runs).tool] };
}

/**
 * The demo shop's tools on virtual time: each run takes `latencyMs` (per tool name, or for all);
 * `options` as `createShopTools` takes them (`cancelApproval`).
 */
export function shopOnClock(
  clock: VirtualClock,
  latencyMs: number | Record<string, number> = 200,
  options: ShopToolOptions = {},
) {
  const shop = createMemoryShop();
  const tools = createShopTools(shop, options).map((t) =>
    defineTool<any>({
      ...t,
      async run(args: unknown, ctx) {
        await clock.sleep(typeof latencyMs === 'number' ? latencyMs : (latencyMs[t.name] ?? 200));
        return t.run(args, ctx);
      },
    }),
  );
  return { shop, tools };
}

/**
 * Several graft instances on one store (each call of `start` makes one), recording each event
 * once (every instance folds every event), the texts delivered and the background errors.
 */
export function instances(options: {
  store: MemoryStore;
  brain: Brain;
  tools: ToolDefinition<any>[];
  modelClock: VirtualClock;
  pollMs?: number;
}) {
  const events: GraftEvent[] = [];
  const errors: unknown[] = [];
  const delivered: string[] = [];
  const start = (instanceId: string, clock: Clock = options.modelClock) =>
    createGraft({
      store: options.store,
      model: new BrainModel(options.brain, {
        clock: options.modelClock,
        latencyMs: () => 700,
        idPrefix: instanceId,
      }),
      tools: options.tools,
      clock,
      instanceId,
      pollMs: options.pollMs ?? 1_000,
      deliver: (d) => void delivered.push(d.text),
      onEvent: (_c, e) => {
        if (!events.some((x) => x.seq === e.seq)) events.push(e);
      },
      onError: (e) => errors.push(e),
    });
  return { start, events, errors, delivered };
}
