import type { Shop } from '../demo/shop/shop.js';
import { createMemoryShop } from '../demo/shop/shop.js';
import { createShopTools } from '../demo/shop/tools.js';
import type { Clock } from '../core/ports.js';
import type { KeyContext, ToolContext, ToolDefinition } from '../tools/define-tool.js';
import { ToolRejection, defineTool } from '../tools/define-tool.js';
import type { ConversationRecord, Recorder } from './recorder.js';
import type { KeyedRandom } from './rng.js';
import { latestMessageKey } from './sim-model.js';
import type { ToolInvocation } from './tool-log.js';
import type { VirtualClock } from './virtual-clock.js';

/** The knobs of the adversarial tools. Shares are of write invocations. */
export interface AdversarialToolOptions {
  /** Most writes: log-normal latency. */
  medianMs: number;
  sigma: number;
  /** The fat tail: this share of writes takes a Pareto latency from `tailMinMs` up (`tailAlpha`), at most `maxMs`. */
  tailShare: number;
  tailMinMs: number;
  tailAlpha: number;
  maxMs: number;
  /** Fail before writing, saying so (`ToolRejection`: nothing happened). */
  rejectShare: number;
  /** Fail before writing with a plain error: the caller cannot tell that nothing happened. */
  errorBeforeShare: number;
  /** Write, then fail with a plain error. */
  errorAfterShare: number;
  /** Write, then return a result that cannot be serialised (a BigInt or a cycle). */
  unserialisableShare: number;
  /** Stop at the signal of the time bound, with a `ToolRejection`, when nothing was written yet. */
  honourSignalShare: number;
  /**
   * Rejections the model sees since the customer's latest message, at most: the shop clerk gives
   * up on a call that failed five times, and a world where it gives up tests nothing.
   */
  maxRejectionsPerMessage: number;
  /** Latency of the read tools (they never fail). */
  readMedianMs: number;
}

export const defaultAdversarialTools: AdversarialToolOptions = {
  medianMs: 250,
  sigma: 0.8,
  tailShare: 0.12,
  tailMinMs: 1_500,
  tailAlpha: 1,
  maxMs: 60_000,
  rejectShare: 0.04,
  errorBeforeShare: 0.04,
  errorAfterShare: 0.04,
  unserialisableShare: 0.03,
  honourSignalShare: 0.3,
  maxRejectionsPerMessage: 2,
  readMedianMs: 120,
};

type Fault = 'none' | 'reject' | 'error-before' | 'error-after' | 'unserialisable';

/** What one write invocation will do, drawn before it starts. */
interface RunPlan {
  totalMs: number;
  /** When it writes (or fails, for a failure before writing), from its start. */
  writeAtMs: number;
  fault: Fault;
  honoursSignal: boolean;
  /** For an unserialisable result: a BigInt in it, else a cycle. */
  bigint: boolean;
  /** The conversation and its latest message, which the rejections are counted under. */
  messageKey: string;
}

interface Env {
  clock: VirtualClock;
  rng: KeyedRandom;
  recorder: Recorder;
}

/**
 * The demo shop's tools, made hostile: heavy-tailed latency (a share of writes outlives the tool
 * time bound, some the hang bound), failures before writing (sometimes a `ToolRejection`,
 * sometimes a plain error that hides that nothing happened), failures after writing, results that
 * cannot be serialised, and a share that honours the time bound's signal. Each conversation has
 * its own shop; every write invocation is logged as the tool saw it (the ground truth).
 *
 * `tools(clock, runner)` makes the tools one runner uses: their waits run on that runner's clock,
 * so a stalled instance's tools finish when the instance wakes.
 */
export class AdversarialShops {
  private readonly shops = new Map<string, { shop: Shop; tools: Map<string, ToolDefinition> }>();
  /** Write invocations since a message, per conversation and message: the draws' keys. */
  private readonly runsSince = new Map<string, number>();
  private readonly rejectionsSince = new Map<string, number>();
  /** The tools as the model sees them, by the approval bound of `cancel_order` (0: no approval). */
  private readonly templates = new Map<number, ToolDefinition[]>();

  constructor(
    private readonly env: Env,
    private readonly options: AdversarialToolOptions = defaultAdversarialTools,
  ) {}

  shop(conversationId: string): Shop {
    return this.entry(conversationId).shop;
  }

  /**
   * With `approvalTimeoutMs`, `cancel_order` needs a person's approval (the demo shop's
   * `cancelApproval`), and a request waits that long for a decision.
   */
  tools(clock: Clock, runner: string, approvalTimeoutMs?: number): ToolDefinition[] {
    return this.template(approvalTimeoutMs ?? 0).map((t) =>
      defineTool<unknown>({
        ...t,
        run: (args, ctx) =>
          t.effect === 'write'
            ? this.write(t.name, args, ctx, clock, runner)
            : this.read(t.name, args, ctx, clock),
        reconcile: (key, ctx) => this.reconcile(t.name, key, ctx),
      }),
    );
  }

  private template(approvalTimeoutMs: number): ToolDefinition[] {
    let template = this.templates.get(approvalTimeoutMs);
    if (!template) {
      const options = approvalTimeoutMs > 0 ? { cancelApproval: { timeoutMs: approvalTimeoutMs } } : {};
      template = createShopTools(createMemoryShop(), options) as ToolDefinition[];
      this.templates.set(approvalTimeoutMs, template);
    }
    return template;
  }

  private entry(conversationId: string) {
    let entry = this.shops.get(conversationId);
    if (!entry) {
      const shop = createMemoryShop();
      entry = { shop, tools: new Map((createShopTools(shop) as ToolDefinition[]).map((t) => [t.name, t])) };
      this.shops.set(conversationId, entry);
    }
    return entry;
  }

  private async read(name: string, args: unknown, ctx: ToolContext, clock: Clock): Promise<unknown> {
    const record = this.env.recorder.conversation(ctx.conversationId);
    const ms = this.env.rng.logNormal(
      this.options.readMedianMs,
      0.5,
      ctx.conversationId,
      latestMessageKey(record),
      ctx.toolCallId,
      'read',
    );
    await wait(clock, ms, null);
    return this.entry(ctx.conversationId).tools.get(name)!.run(args, ctx);
  }

  private async write(
    name: string,
    args: unknown,
    ctx: ToolContext,
    clock: Clock,
    runner: string,
  ): Promise<unknown> {
    const { recorder } = this.env;
    const record = recorder.conversation(ctx.conversationId);
    const plan = this.plan(record, ctx);
    const invocation = this.start(record, name, ctx, runner);
    try {
      const value = await this.perform(name, args, ctx, clock, plan, invocation);
      invocation.outcome = 'returned';
      return value;
    } catch (error) {
      invocation.outcome = error instanceof ToolRejection ? 'rejected' : 'threw';
      throw error;
    } finally {
      invocation.endAt = this.env.clock.now();
      invocation.endOp = recorder.nextOp();
      const effect = record.effects.find((e) => e.toolCallId === ctx.toolCallId && e.endOp === null);
      if (effect) Object.assign(effect, { endOp: invocation.endOp, ok: invocation.outcome === 'returned' });
    }
  }

  /** The steps of one write: wait, maybe fail before writing, write, wait, maybe fail after. */
  private async perform(
    name: string,
    args: unknown,
    ctx: ToolContext,
    clock: Clock,
    plan: RunPlan,
    invocation: ToolInvocation,
  ): Promise<unknown> {
    if (plan.fault === 'reject' || plan.fault === 'error-before') {
      await wait(clock, plan.writeAtMs, null);
      if (plan.fault === 'error-before') throw new Error('connection reset by the shop');
      this.countRejection(plan);
      throw new ToolRejection('The shop is busy; nothing was written. Try again.');
    }
    const stopped = await wait(clock, plan.writeAtMs, plan.honoursSignal ? ctx.signal : null);
    if (stopped) {
      this.countRejection(plan);
      throw new ToolRejection('Stopped at the time bound before writing anything.');
    }
    const value = this.writeToShop(name, args, ctx, invocation);
    await wait(clock, plan.totalMs - plan.writeAtMs, null);
    if (plan.fault === 'error-after')
      throw new Error('the shop wrote the change, then the connection dropped');
    if (plan.fault === 'unserialisable') return unserialisable(value, plan.bigint);
    return value;
  }

  /** Calls the demo tool and logs, from the shop's own log, whether it wrote and whether a fence refused it. */
  private writeToShop(name: string, args: unknown, ctx: ToolContext, invocation: ToolInvocation): unknown {
    const { shop, tools } = this.entry(ctx.conversationId);
    const before = shop.invocations().length;
    try {
      const value = tools.get(name)!.run(args, ctx);
      invocation.wroteAt = this.env.clock.now();
      invocation.wroteOp = this.env.recorder.nextOp();
      return value;
    } finally {
      const logged = shop.invocations().slice(before).at(-1);
      invocation.changed = logged?.changed === true;
      invocation.fenced = logged?.fenced === true;
    }
  }

  private async reconcile(name: string, key: string, ctx: KeyContext) {
    const inner = this.entry(ctx.conversationId).tools.get(name)!;
    const found = await inner.reconcile!(key, ctx);
    const record = this.env.recorder.conversation(ctx.conversationId);
    const inFlight = record.invocations.some((i) => i.key === key && i.endOp === null);
    record.reconciles.push({
      key,
      at: this.env.clock.now(),
      op: this.env.recorder.nextOp(),
      happened: found.happened,
      inFlight,
    });
    return found;
  }

  private start(record: ConversationRecord, name: string, ctx: ToolContext, runner: string): ToolInvocation {
    const { clock, recorder } = this.env;
    const requestedBy = recorder.requestedBy.get(`${ctx.conversationId}/${ctx.toolCallId}`) ?? null;
    const invocation: ToolInvocation = {
      tool: name,
      key: ctx.idempotencyKey ?? ctx.toolCallId,
      toolCallId: ctx.toolCallId,
      effectId: ctx.effectId,
      runner,
      requestedBy,
      startAt: clock.now(),
      startOp: recorder.nextOp(),
      endAt: null,
      endOp: null,
      wroteAt: null,
      wroteOp: null,
      changed: false,
      fenced: false,
      outcome: 'running',
    };
    record.invocations.push(invocation);
    // The figures every world reports (orphaned effects, the history hash) read `effects`.
    record.effects.push({
      toolCallId: ctx.toolCallId,
      tool: name,
      startOp: invocation.startOp,
      startAt: invocation.startAt,
      endOp: null,
      ok: null,
      requestedBy,
    });
    if (ctx.effectId) recorder.effectCalls.set(`${ctx.conversationId}/${ctx.effectId}`, ctx.toolCallId);
    return invocation;
  }

  /** Draws what a write invocation will do, keyed by the conversation, its latest message and a count. */
  private plan(record: ConversationRecord, ctx: ToolContext): RunPlan {
    const { rng } = this.env;
    const o = this.options;
    const messageKey = `${ctx.conversationId}/${latestMessageKey(record)}`;
    const n = (this.runsSince.get(messageKey) ?? 0) + 1;
    this.runsSince.set(messageKey, n);
    const key = [ctx.conversationId, latestMessageKey(record), n];
    const totalMs = this.latency(key);
    const u = rng.uniform(...key, 'fault');
    let fault = pickFault(u, o);
    const mayReject = (this.rejectionsSince.get(messageKey) ?? 0) < o.maxRejectionsPerMessage;
    if (fault === 'reject' && !mayReject) fault = 'none';
    const honoursSignal = mayReject && rng.uniform(...key, 'signal') < o.honourSignalShare;
    const writeAtMs = totalMs * rng.uniform(...key, 'write-at');
    return {
      totalMs,
      writeAtMs,
      fault,
      honoursSignal,
      bigint: rng.uniform(...key, 'bigint') < 0.5,
      messageKey,
    };
  }

  private countRejection(plan: RunPlan): void {
    this.rejectionsSince.set(plan.messageKey, (this.rejectionsSince.get(plan.messageKey) ?? 0) + 1);
  }

  /** Log-normal for most writes; a Pareto tail for `tailShare` of them. */
  private latency(key: (string | number)[]): number {
    const { rng } = this.env;
    const o = this.options;
    if (rng.uniform(...key, 'tail') >= o.tailShare)
      return Math.min(o.maxMs, rng.logNormal(o.medianMs, o.sigma, ...key, 'latency'));
    const u = rng.uniform(...key, 'pareto');
    return Math.min(o.maxMs, o.tailMinMs * (1 - u) ** (-1 / o.tailAlpha));
  }
}

function pickFault(u: number, o: AdversarialToolOptions): Fault {
  const faults: [Fault, number][] = [
    ['reject', o.rejectShare],
    ['error-before', o.errorBeforeShare],
    ['error-after', o.errorAfterShare],
    ['unserialisable', o.unserialisableShare],
  ];
  let edge = 0;
  for (const [fault, share] of faults) {
    edge += share;
    if (u < edge) return fault;
  }
  return 'none';
}

/** Waits `ms` on the runner's clock; resolves true if `signal` fired first. */
function wait(clock: Clock, ms: number, signal: AbortSignal | null): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(true);
    const onAbort = () => {
      cancel();
      resolve(true);
    };
    const cancel = clock.setTimer(clock.now() + ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve(false);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The tool's result with something JSON cannot write in it. */
function unserialisable(value: unknown, bigint: boolean): unknown {
  const result: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  if (bigint) result.total_cents = 1999n;
  else result.self = result;
  return result;
}
