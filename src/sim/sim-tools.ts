import type { Shop } from '../demo/shop/shop.js';
import { createMemoryShop } from '../demo/shop/shop.js';
import { createShopTools } from '../demo/shop/tools.js';
import type { ToolContext, ToolDefinition } from '../tools/define-tool.js';
import { defineTool } from '../tools/define-tool.js';
import type { Recorder } from './recorder.js';
import type { KeyedRandom } from './rng.js';
import type { Faults, LatencyModel } from './sim-model.js';
import { latestMessageKey } from './sim-model.js';
import type { VirtualClock } from './virtual-clock.js';

/**
 * The shop's tools for a simulation run: one shop per conversation (so order ids do not depend
 * on how conversations interleave), keyed latency and failures on virtual time, and a record of
 * every write run. A failure happens before the shop is touched: the write did not happen.
 */
export function createSimTools(env: {
  clock: VirtualClock;
  rng: KeyedRandom;
  recorder: Recorder;
  latency: LatencyModel;
  faults: Faults;
}): {
  tools: ToolDefinition<unknown>[];
  shop(conversationId: string): Shop;
  forget(conversationId: string): void;
} {
  const shops = new Map<string, { shop: Shop; tools: Map<string, ToolDefinition<unknown>> }>();
  const runsSince = new Map<string, number>();
  const forConversation = (conversationId: string) => {
    let entry = shops.get(conversationId);
    if (!entry) {
      const shop = createMemoryShop();
      entry = {
        shop,
        tools: new Map(createShopTools(shop).map((t) => [t.name, t as ToolDefinition<unknown>])),
      };
      shops.set(conversationId, entry);
    }
    return entry;
  };
  const template = createShopTools(createMemoryShop()) as ToolDefinition<unknown>[];
  const tools = template.map((t) =>
    defineTool<unknown>({
      ...t,
      run: async (args: unknown, ctx: ToolContext) => {
        const { clock, rng, recorder, latency, faults } = env;
        const record = recorder.conversation(ctx.conversationId);
        const messageKey = latestMessageKey(record);
        const counterKey = `${ctx.conversationId}/${messageKey}`;
        const n = (runsSince.get(counterKey) ?? 0) + 1;
        runsSince.set(counterKey, n);
        const key = [ctx.conversationId, messageKey, n];
        const effect =
          t.effect === 'write'
            ? {
                toolCallId: ctx.toolCallId,
                tool: t.name,
                startOp: recorder.nextOp(),
                startAt: clock.now(),
                endOp: null as number | null,
                ok: null as boolean | null,
                requestedBy: recorder.requestedBy.get(`${ctx.conversationId}/${ctx.toolCallId}`) ?? null,
              }
            : null;
        if (effect) record.effects.push(effect);
        if (ctx.effectId) recorder.effectCalls.set(`${ctx.conversationId}/${ctx.effectId}`, ctx.toolCallId);
        await clock.sleep(latency.toolMedianMs * Math.exp(latency.toolSigma * rng.normal(...key, 'tool')));
        try {
          if (rng.uniform(...key, 'tool-fault') < faults.toolFailureRate)
            throw new Error('the shop is unavailable, try again');
          const value = await forConversation(ctx.conversationId).tools.get(t.name)!.run(args, ctx);
          if (effect) effect.ok = true;
          return value;
        } catch (error) {
          if (effect) effect.ok = false;
          throw error;
        } finally {
          if (effect) effect.endOp = recorder.nextOp();
        }
      },
    }),
  );
  return {
    tools,
    shop: (conversationId) => forConversation(conversationId).shop,
    forget: (conversationId) => {
      shops.delete(conversationId);
    },
  };
}
