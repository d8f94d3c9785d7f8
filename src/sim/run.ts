import { coreConfig } from '../core/config.js';
import type { GraftEvent } from '../core/events.js';
import type { ReplyId } from '../core/ids.js';
import { createShopClerk } from '../demo/clerk/index.js';
import { createGraft } from '../runtime/graft.js';
import { createToolRunner } from '../runtime/tool-runner.js';
import { MemoryStore } from '../store/memory/memory-store.js';
import type { ToolDefinition } from '../tools/define-tool.js';
import { toolSpec } from '../tools/define-tool.js';
import type { BaselineStrategy } from './baseline.js';
import { BaselineBot } from './baseline.js';
import { adversarialBrain } from './adversarial-brain.js';
import { AdversarialShops } from './adversarial-tools.js';
import type { Coverage } from './coverage.js';
import { addCoverage, countToolLog, emptyCoverage } from './coverage.js';
import type { ClusterOptions, Driver } from './graft-cluster.js';
import { GraftObserver, defaultCluster, graftCluster } from './graft-cluster.js';
import type { Violation } from './invariants.js';
import { checkConversation } from './invariants.js';
import { absentEffects } from './history-checks.js';
import { missingWithHumans } from './human-checks.js';
import type { ConversationFigures, StrategyReport } from './metrics.js';
import { addFigures, emptyFigures, measure, report } from './metrics.js';
import type { ConversationRecord } from './recorder.js';
import { Recorder } from './recorder.js';
import { KeyedRandom } from './rng.js';
import type { LatencyModel } from './sim-model.js';
import { SimModel, defaultFaults, defaultLatency, noFaults } from './sim-model.js';
import { createSimTools } from './sim-tools.js';
import { VirtualClock } from './virtual-clock.js';
import type { CustomerScript, WorkloadOptions } from './workload.js';
import { adversarialWorkload, customerScript, defaultWorkload } from './workload.js';
import { hashString } from './rng.js';

export const STRATEGIES = [
  'graft',
  'naive',
  'naive-abort',
  'debounce',
  'enqueue',
  'interrupt',
  'rollback',
] as const;
/**
 * The frameworks' answers to a message mid-attempt (DESIGN.md): `steer` injects it into the running
 * attempt, `burst` is Chat SDK's. Selectable by name (or `--strategy peers`), not run by `all`, so
 * that `all`'s figures stay as they were.
 */
export const PEER_STRATEGIES = ['steer', 'burst'] as const;
export type Strategy = (typeof STRATEGIES)[number] | (typeof PEER_STRATEGIES)[number];
/** Every strategy the simulator knows. */
export const ALL_STRATEGIES: readonly Strategy[] = [...STRATEGIES, ...PEER_STRATEGIES];
/**
 * `polite`: one instance, the rational shop clerk, fast and well-behaved tools. `adversarial`: a
 * model that writes unless its context proves the effect done, hostile tools, bursts of up to 12
 * messages, and graft on 2–3 stalling, skewed instances per conversation.
 */
export const WORLDS = ['polite', 'adversarial'] as const;
export type World = (typeof WORLDS)[number];

export interface SimOptions {
  seed: number;
  conversations: number;
  /** The index of the first conversation (default 0): conversation `c` is the same in any run of its seed. */
  first?: number;
  strategies: readonly Strategy[];
  faults: boolean;
  /** Default `polite`. */
  world?: World;
  /** How graft runs in the adversarial world (default {@link defaultCluster}). */
  cluster?: ClusterOptions;
  workload?: WorkloadOptions;
  latency?: LatencyModel;
  /** graft's policy when a running write settles (or a read answers) during an attempt's first call. */
  onSettleDuringFirstCall?: 'restart' | 'rebase';
  /**
   * Conversations simulated together on one virtual timeline (a memory bound, not a result knob;
   * default {@link DEFAULT_CHUNK}).
   */
  chunk?: number;
  /** Worker threads to spread each strategy's conversations over (default 1: this thread). Changes no result. */
  threads?: number;
  onProgress?: (strategy: Strategy, done: number, total: number) => void;
}

export interface StrategyResult {
  report: StrategyReport;
  violations: Violation[];
  /** A hash of everything observed: the same seed gives the same hash. */
  historyHash: string;
  /** graft's coverage counters (the adversarial world only). */
  coverage: Coverage | null;
}

export interface SimResult {
  seed: number;
  conversations: number;
  /** Present in the adversarial world only (the polite world's JSON is as it always was). */
  world?: 'adversarial';
  /** The workload profile, when it is not the default one (`double-text`). */
  workload?: string;
  strategies: Record<string, StrategyReport>;
  /** graft's coverage counters, in the adversarial world when graft ran. */
  coverage?: Coverage;
}

/**
 * Conversations are independent (keyed randomness, a shop each), so how many share a timeline
 * changes nothing in the results, only the speed: 250 at a time ran about 20% slower than 25
 * (each garbage collection copies more live state, and the working set outgrows the CPU caches);
 * fewer than 25 made no measurable difference.
 */
export const DEFAULT_CHUNK = 25;
const MODEL_TIMEOUT_MS = 10_000;
const INSTRUCTIONS =
  'You are the shop clerk of a small takeaway. Take orders, change them, cancel them and answer questions about them.';

/** Runs the simulation for every strategy asked for. */
export async function runSim(
  options: SimOptions,
): Promise<{ result: SimResult; details: Record<string, StrategyResult> }> {
  const details: Record<string, StrategyResult> = {};
  const threads = options.threads ?? 1;
  // Loaded only when asked for: the one-thread simulator needs no worker machinery.
  const parallel = threads > 1 ? (await import('./parallel.js')).runStrategyParallel : null;
  for (const strategy of options.strategies) {
    details[strategy] = parallel
      ? await parallel(strategy, options, threads)
      : await runStrategy(strategy, options);
  }
  const strategies: Record<string, StrategyReport> = {};
  for (const [name, detail] of Object.entries(details)) strategies[name] = detail.report;
  const coverage = details.graft?.coverage;
  const result: SimResult = {
    seed: options.seed,
    conversations: options.conversations,
    ...(options.world === 'adversarial' ? { world: 'adversarial' as const } : {}),
    ...(options.workload?.name ? { workload: options.workload.name } : {}),
    strategies,
    ...(coverage ? { coverage } : {}),
  };
  return { result, details };
}

/** What a range of conversations contributes, before percentiles are taken. */
export interface RangeResult {
  total: ConversationFigures;
  violations: Violation[];
  /** One hash per conversation, in order. */
  hashes: string[];
  /** graft's coverage counters, summed (the adversarial world only). */
  coverage: Coverage | null;
}

/** Runs one strategy over the whole workload. */
export async function runStrategy(strategy: Strategy, options: SimOptions): Promise<StrategyResult> {
  const first = options.first ?? 0;
  const part = await runRange(strategy, options, [first, first + options.conversations], (n) =>
    options.onProgress?.(strategy, n, options.conversations),
  );
  return {
    report: report(part.total),
    violations: part.violations,
    historyHash: historyHashOf(part.hashes),
    coverage: part.coverage,
  };
}

/** The history hash of a run: one hash over the conversations' hashes, in order. */
export function historyHashOf(hashes: readonly string[]): string {
  return hashString(hashes.join(',')).toString(16).padStart(8, '0');
}

/** Runs conversations `from` ≤ c < `to` of one strategy here, a chunk at a time. */
export async function runRange(
  strategy: Strategy,
  options: SimOptions,
  [from, to]: [number, number],
  onProgress: (done: number) => void = () => undefined,
): Promise<RangeResult> {
  const rng = new KeyedRandom(options.seed);
  const adversarial = options.world === 'adversarial';
  const result: RangeResult = {
    total: emptyFigures(),
    violations: [],
    hashes: [],
    coverage: adversarial && strategy === 'graft' ? emptyCoverage() : null,
  };
  const chunk = options.chunk ?? DEFAULT_CHUNK;
  const workload = options.workload ?? (adversarial ? adversarialWorkload : defaultWorkload);
  for (let first = from; first < to; first += chunk) {
    const scripts: CustomerScript[] = [];
    for (let c = first; c < Math.min(to, first + chunk); c += 1)
      scripts.push(customerScript(rng, c, workload));
    const run = adversarial ? runAdversarialChunk : runChunk;
    for (const { figures, record, violations } of await run(strategy, scripts, rng, options)) {
      addFigures(result.total, figures);
      result.violations.push(...violations);
      result.hashes.push(
        hashString(adversarial ? adversarialFingerprint(record) : fingerprint(record)).toString(16),
      );
      if (result.coverage && record.coverage) addCoverage(result.coverage, record.coverage);
    }
    onProgress(Math.min(to, first + chunk) - from);
  }
  return result;
}

export async function runChunk(
  strategy: Strategy,
  scripts: CustomerScript[],
  rng: KeyedRandom,
  options: SimOptions,
) {
  // The simulated system does no real I/O and sets no real timer: draining the promise queue between timers is enough.
  const clock = new VirtualClock(0, { drain: 'microtasks' });
  const recorder = new Recorder();
  const env = {
    clock,
    rng,
    recorder,
    latency: options.latency ?? defaultLatency,
    faults: options.faults ? defaultFaults : noFaults,
  };
  const simTools = createSimTools(env);
  const brain = createShopClerk();
  for (const script of scripts) {
    const record = recorder.conversation(script.conversationId);
    const model = new SimModel(brain, env, record);
    const live =
      strategy === 'graft'
        ? graftConversation(script, env, simTools.tools, model, record, options)
        : baselineConversation(strategy, script, env, simTools.tools, model, record);
    scheduleMessages(script, live, env, record);
  }
  await clock.run();
  return scripts.map((script) => {
    const record = recorder.conversation(script.conversationId);
    const shop = simTools.shop(script.conversationId);
    const figures: ConversationFigures = measure(record, shop, script.desired);
    return { script, record, shop, figures, violations: checkConversation(record, figures) };
  });
}

/** No ledger: the baselines' contexts are judged against the tools' own log. */
const NO_LEDGER = { ledger: () => undefined };

/**
 * A chunk of the adversarial world: the adversarial model and tools for every strategy; graft
 * on several stalling instances per conversation, the baselines as one bot each (on the same tools).
 */
export async function runAdversarialChunk(
  strategy: Strategy,
  scripts: CustomerScript[],
  rng: KeyedRandom,
  options: SimOptions,
) {
  const clock = new VirtualClock(0, { drain: 'microtasks' });
  const recorder = new Recorder();
  const env = {
    clock,
    rng,
    recorder,
    latency: options.latency ?? defaultLatency,
    faults: options.faults ? defaultFaults : noFaults,
  };
  const shops = new AdversarialShops(env);
  const brain = adversarialBrain(createShopClerk(), options.seed);
  for (const script of scripts) {
    const record = recorder.conversation(script.conversationId);
    let live: Driver;
    if (strategy === 'graft') {
      const observer = new GraftObserver(record, recorder, clock);
      const model = new SimModel(brain, env, record, observer);
      const settle = options.onSettleDuringFirstCall
        ? { onSettleDuringFirstCall: options.onSettleDuringFirstCall }
        : {};
      live = graftCluster(script, { ...env, shops }, model, record, observer, {
        instructions: INSTRUCTIONS,
        cluster: options.cluster ?? defaultCluster,
        ...settle,
      });
    } else {
      const model = new SimModel(brain, env, record, NO_LEDGER);
      live = baselineConversation(strategy, script, env, shops.tools(clock, 'bot'), model, record);
    }
    scheduleMessages(script, live, env, record);
  }
  await clock.run();
  return scripts.map((script) => {
    const record = recorder.conversation(script.conversationId);
    if (record.coverage)
      countToolLog(record.coverage, record.invocations, record.reconciles, record.humans?.acts);
    const shop = shops.shop(script.conversationId);
    // Orphans are judged by the ledger (or the tool log) here: an effect absent from a context that
    // should hold it. With humans in the loop, what a person refused or handled is not missing.
    const figures: ConversationFigures = {
      ...measure(record, shop, script.desired),
      orphanedEffects: absentEffects(record),
      ...(record.humans
        ? { missingEffects: missingWithHumans(record, shop.orders(script.conversationId), script.messages) }
        : {}),
    };
    return { script, record, shop, figures, violations: checkConversation(record, figures, 'adversarial') };
  });
}

/** Sends each message at its time; the driver says when it reaches the strategy (`arrive` records it then). */
function scheduleMessages(
  script: CustomerScript,
  live: Driver,
  env: { clock: VirtualClock; recorder: Recorder },
  record: ConversationRecord,
): void {
  const { clock, recorder } = env;
  for (const message of script.messages) {
    clock.setTimer(message.atMs, () => {
      live.receive(message.id, message.text, () => {
        record.messages.push({
          id: message.id,
          text: message.text,
          at: clock.now(),
          op: recorder.nextOp(),
          contended: live.isLive(),
        });
      });
    });
  }
}

function graftConversation(
  script: CustomerScript,
  env: { clock: VirtualClock; recorder: Recorder },
  tools: ReturnType<typeof createSimTools>['tools'],
  model: SimModel,
  record: ConversationRecord,
  options: SimOptions,
): Driver {
  let live = false;
  const replies = new Map<ReplyId, ConversationRecord['replies'][number]>();
  const graft = createGraft({
    store: new MemoryStore({ copy: false }),
    model,
    tools,
    clock: env.clock,
    instanceId: 'sim',
    instructions: INSTRUCTIONS,
    modelTimeoutMs: MODEL_TIMEOUT_MS,
    ...(options.onSettleDuringFirstCall ? { onSettleDuringFirstCall: options.onSettleDuringFirstCall } : {}),
    onEvent: (_id: string, event: GraftEvent, state) => {
      live = state.live !== null;
      if (event.type !== 'reply.committed') return;
      const reply = {
        text: event.text,
        covers: [...event.covers],
        kind: event.kind,
        committedAt: event.at,
        committedOp: env.recorder.nextOp(),
        deliveredAt: null as number | null,
      };
      replies.set(event.replyId, reply);
      record.replies.push(reply);
    },
    deliver: (delivery) => {
      const reply = replies.get(delivery.replyId);
      if (reply && reply.deliveredAt === null) reply.deliveredAt = env.clock.now();
    },
    onError: (error) => {
      throw error;
    },
  });
  return {
    isLive: () => live,
    receive: (messageId, text, arrive) => {
      arrive();
      void graft.receive({ conversationId: script.conversationId, messageId, text });
    },
  };
}

function baselineConversation(
  strategy: BaselineStrategy,
  script: CustomerScript,
  env: { clock: VirtualClock; recorder: Recorder },
  tools: readonly ToolDefinition[],
  model: SimModel,
  record: ConversationRecord,
): Driver {
  const config = coreConfig({ instanceId: 'sim' });
  const bot = new BaselineBot(strategy, {
    conversationId: script.conversationId,
    clock: env.clock,
    model,
    tools: createToolRunner(tools),
    toolSpecs: tools.map((t) => toolSpec(t)),
    instructions: INSTRUCTIONS,
    modelName: config.model,
    modelTimeoutMs: MODEL_TIMEOUT_MS,
    deliver: ({ text, covers, kind, responseId }) => {
      const now = env.clock.now();
      const fromCall =
        responseId === null ? -1 : record.calls.findLastIndex((c) => c.responseId === responseId);
      record.replies.push({
        text,
        covers,
        kind,
        committedAt: now,
        committedOp: env.recorder.nextOp(),
        deliveredAt: now,
        ...(fromCall >= 0 ? { fromCall } : {}),
      });
    },
  });
  return {
    isLive: () => bot.live,
    receive: (id, text, arrive) => {
      arrive();
      bot.receive({ id, text });
    },
  };
}

/** The observable history of a conversation, as text to hash. */
function fingerprint(record: ConversationRecord): string {
  return JSON.stringify({
    m: record.messages.map((m) => [m.id, m.at, m.contended]),
    c: record.calls.map((c) => [
      c.at,
      c.inputTokens,
      c.outputTokens,
      c.aborted,
      c.held.size > 1 ? [...c.held].sort() : [...c.held],
    ]),
    e: record.effects.map((e) => [e.toolCallId, e.tool, e.startAt, e.ok]),
    r: record.replies.map((r) => [r.text, r.covers, r.kind, r.committedAt, r.deliveredAt]),
  });
}

/** The adversarial world's history: the polite fingerprint, and the tools' own log. */
function adversarialFingerprint(record: ConversationRecord): string {
  return JSON.stringify({
    h: fingerprint(record),
    i: record.invocations.map((i) => [
      i.key,
      i.runner,
      i.startAt,
      i.endAt,
      i.wroteAt,
      i.changed,
      i.fenced,
      i.outcome,
    ]),
    k: record.reconciles.map((r) => [r.key, r.at, r.happened]),
    x: record.errors,
    ...(record.humans
      ? {
          o: record.humans.acts.map((a) => [a.kind, a.via, a.operator, a.effectId, a.decision, a.outcome]),
          l: record.humans.log.map((e) => [e.seq, e.type, e.detail]),
          d: [...record.humans.requests.values()].map((r) => [r.effectId, r.decision?.kind, r.decision?.seq]),
        }
      : {}),
  });
}
