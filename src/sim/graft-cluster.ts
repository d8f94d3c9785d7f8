import type { Limits } from '../core/config.js';
import type { EffectStatus, GraftEvent } from '../core/events.js';
import type { ReplyId } from '../core/ids.js';
import type { ConversationState } from '../core/state.js';
import type { Graft } from '../runtime/graft.js';
import { createGraft } from '../runtime/graft.js';
import { MemoryStore } from '../store/memory/memory-store.js';
import type { AdversarialShops } from './adversarial-tools.js';
import { countEvent, emptyCoverage } from './coverage.js';
import type { InstanceFaults } from './instance-clock.js';
import { InstanceClock, instanceFaults, instanceStore } from './instance-clock.js';
import type { OperatorOptions } from './operator.js';
import { APPROVAL_TOOLS, SimOperator, defaultOperator } from './operator.js';
import type { ConversationRecord, HumanLogEntry, HumanRecord, Recorder, ReplyRecord } from './recorder.js';
import type { KeyedRandom } from './rng.js';
import type { ContextWitness, SimModel } from './sim-model.js';
import type { VirtualClock } from './virtual-clock.js';
import type { CustomerScript } from './workload.js';

/** How the adversarial world runs graft: several instances per conversation, with their bounds. */
export interface ClusterOptions {
  /** Instances per conversation: 2 or 3, drawn per conversation. */
  maxInstances: number;
  faults: InstanceFaults;
  pollMs: number;
  /** Bounds passed to every instance (smaller than the defaults, so the world reaches them). */
  limits: Partial<Limits>;
  modelTimeoutMs: number;
  /** How often, after the last message, to check whether the conversation is finished. */
  reapEveryMs: number;
  /** Instances are closed this long after the last message, finished or not (a bound on the run). */
  deadlineMs: number;
  /**
   * The person at the operator's desk: `cancel_order` needs their approval, and they decide
   * requests and take conversations over. Null: no humans in the loop.
   */
  operator: OperatorOptions | null;
}

export const defaultCluster: ClusterOptions = {
  maxInstances: 3,
  faults: {
    maxSkewMs: 1_500,
    stallGapMeanMs: 25_000,
    stallMinMs: 3_500,
    stallMaxMs: 10_000,
    horizonMs: 600_000,
  },
  pollMs: 2_000,
  limits: {
    toolTimeoutMs: 5_000,
    toolHangMs: 15_000,
    leaseMs: 6_000,
    attemptsPerTurn: 4,
    replyWaitMs: 1_000,
  },
  modelTimeoutMs: 10_000,
  reapEveryMs: 2_000,
  deadlineMs: 600_000,
  operator: defaultOperator,
};

/**
 * What the simulator sees of graft's log in a multi-instance conversation. Every instance folds
 * every event; the observer takes each seq once, from whichever instance folds it first (the
 * state after seq N is the same in every instance). It keeps the replies, the ledger at each
 * `model.requested` (for the checker) and the coverage counters.
 */
export class GraftObserver implements ContextWitness {
  private seq = 0;
  private liveNow = false;
  /** The live attempt after the last event seen. */
  private liveAttempt: string | null = null;
  private readonly ledgers = new Map<string, ReadonlyMap<string, EffectStatus>>();
  private readonly replies = new Map<ReplyId, ReplyRecord>();
  /** Hears each event once, after the observer (the simulated operator). */
  listener: ((event: GraftEvent) => void) | null = null;

  constructor(
    private readonly record: ConversationRecord,
    private readonly recorder: Recorder,
    private readonly clock: VirtualClock,
  ) {
    record.coverage = emptyCoverage();
  }

  /** True while an attempt is live (a message now arrives "while an attempt is live"). */
  get live(): boolean {
    return this.liveNow;
  }

  onEvent(event: GraftEvent, state: ConversationState): void {
    if (event.seq <= this.seq) return;
    this.seq = event.seq;
    const liveBefore = this.liveAttempt;
    this.liveAttempt = state.live;
    this.liveNow = state.live !== null;
    countEvent(this.record.coverage!, event, state);
    if (this.record.humans) logHumans(this.record.humans, event, this.recorder.nextOp(), liveBefore);
    this.observe(event, state);
    this.listener?.(event);
  }

  private observe(event: GraftEvent, state: ConversationState): void {
    switch (event.type) {
      case 'message.received': {
        // Received means appended: a reply committed after this must cover the message.
        const message = this.record.messages.findLast((m) => m.id === event.messageId);
        if (message) message.op = this.recorder.nextOp();
        return;
      }
      case 'model.requested':
        this.ledgers.set(event.callId, ledgerOf(state));
        return;
      case 'effect.started': {
        const op = this.recorder.nextOp();
        for (const effect of event.effects) {
          this.recorder.effectCalls.set(
            `${this.record.conversationId}/${effect.effectId}`,
            effect.toolCallId,
          );
          this.record.writeDecisions.set(effect.toolCallId, op);
        }
        return;
      }
      case 'reply.committed': {
        const fromCall =
          event.callId === null ? -1 : this.record.calls.findLastIndex((c) => c.callId === event.callId);
        const reply: ReplyRecord = {
          text: event.text,
          covers: [...event.covers],
          kind: event.kind,
          committedAt: this.clock.now(),
          committedOp: this.recorder.nextOp(),
          deliveredAt: null,
          ...(fromCall >= 0 ? { fromCall } : {}),
          ledger: ledgerOf(state),
        };
        this.replies.set(event.replyId, reply);
        this.record.replies.push(reply);
        return;
      }
      default:
        return;
    }
  }

  delivered(replyId: ReplyId): void {
    const reply = this.replies.get(replyId);
    if (reply && reply.deliveredAt === null) reply.deliveredAt = this.clock.now();
  }

  ledger(callId: string | undefined): ReadonlyMap<string, EffectStatus> | null {
    return callId === undefined ? null : (this.ledgers.get(callId) ?? null);
  }
}

/** What the rules on approvals and takeovers read of one event of graft's log. */
function logHumans(humans: HumanRecord, event: GraftEvent, op: number, liveBefore: string | null): void {
  const entry = (type: HumanLogEntry['type'], detail: string) =>
    humans.log.push({ seq: event.seq, op, type, detail });
  switch (event.type) {
    case 'effect.started':
      entry(event.type, event.effects.map((e) => `${e.tool} ${e.effectId}`).join(', '));
      for (const e of event.effects) {
        humans.started.set(e.effectId, event.seq);
        if (!e.approval) continue;
        humans.requests.set(e.effectId, {
          effectId: e.effectId,
          attemptId: event.attemptId,
          toolCallId: e.toolCallId,
          tool: e.tool,
          key: e.idempotencyKey,
          seq: event.seq,
          op,
          expiresAt: e.approval.expiresAt,
          decision: null,
          decisions: 0,
        });
      }
      return;
    case 'effect.approved':
    case 'effect.rejected': {
      if (event.type === 'effect.approved') entry(event.type, `${event.request.tool} ${event.effectId}`);
      const request = humans.requests.get(event.effectId);
      const kind = event.type === 'effect.approved' ? 'approved' : event.cause;
      if (!request) return;
      request.decisions += 1;
      // The first decision stands (the fold refuses a second; the checker reports one).
      request.decision ??= { kind, seq: event.seq, op, at: event.at, operator: event.operator ?? null };
      return;
    }
    case 'reply.committed':
      entry(event.type, event.kind);
      return;
    case 'attempt.started':
      entry(event.type, event.attemptId);
      return;
    case 'model.requested':
      entry(event.type, event.callId);
      return;
    case 'attempt.superseded':
    case 'attempt.failed':
      if (!humans.attemptEnds.has(event.attemptId)) humans.attemptEnds.set(event.attemptId, event.seq);
      return;
    case 'conversation.taken-over':
      // The attempt that was live is superseded by the takeover itself.
      if (liveBefore !== null && !humans.attemptEnds.has(liveBefore))
        humans.attemptEnds.set(liveBefore, event.seq);
      entry(event.type, event.operator);
      return;
    case 'conversation.released':
      entry(event.type, event.operator);
      return;
    default:
      return;
  }
}

/** Every effect's status, by the model's tool call id. */
function ledgerOf(state: ConversationState): Map<string, EffectStatus> {
  const ledger = new Map<string, EffectStatus>();
  for (const effect of state.effects.values()) ledger.set(effect.toolCallId, effect.status);
  return ledger;
}

export interface ClusterEnv {
  clock: VirtualClock;
  rng: KeyedRandom;
  recorder: Recorder;
  shops: AdversarialShops;
}

/** A conversation as the simulator drives it. `arrive` records the message when it reaches graft. */
export interface Driver {
  isLive(): boolean;
  receive(messageId: string, text: string, arrive: () => void): void;
}

/**
 * One conversation served by 2–3 graft instances on one shared store, each on its own skewed,
 * stalling clock, with its own view of the model and the tools. Messages go to an instance by a
 * keyed draw; the channel delivers a conversation's messages in order (each once the previous one
 * was accepted), so a frozen instance holds the ones after its message until it wakes — as a
 * channel that retries an unacknowledged webhook does. Once the conversation is finished — or at
 * the deadline — every instance is closed, so the virtual clock runs dry.
 */
export function graftCluster(
  script: CustomerScript,
  env: ClusterEnv,
  model: SimModel,
  record: ConversationRecord,
  observer: GraftObserver,
  options: ClusterRunOptions,
): Driver {
  const conversationId = script.conversationId;
  const shared = new MemoryStore({ copy: false });
  const count =
    2 + Math.floor(env.rng.uniform(conversationId, 'instances') * (options.cluster.maxInstances - 1));
  const humans = options.cluster.operator;
  let approvalTimeoutMs: number | undefined;
  if (humans) {
    const bounds = humans.approvalTimeoutsMs;
    approvalTimeoutMs =
      bounds[Math.floor(env.rng.uniform(conversationId, 'approval-timeout') * bounds.length)]!;
    record.humans = {
      approvalTools: APPROVAL_TOOLS,
      approvalTimeoutMs,
      clockSpreadMs: 2 * options.cluster.faults.maxSkewMs,
      requests: new Map(),
      started: new Map(),
      attemptEnds: new Map(),
      log: [],
      acts: [],
    };
  }
  const instances = Array.from({ length: count }, (_, i) =>
    startInstance(i, { conversationId, shared, env, model, record, observer, options, approvalTimeoutMs }),
  );
  let operator: SimOperator | null = null;
  if (humans) {
    const desk = instances.map(({ clock, graft }, i) => ({ name: `i${i}`, clock, graft }));
    operator = new SimOperator(conversationId, env, record, desk, humans);
    const firstAt = script.messages[0]?.atMs ?? 0;
    operator.start(firstAt, script.messages.at(-1)?.atMs ?? firstAt);
    const person = operator;
    observer.listener = (event) => person.onEvent(event);
  }
  let arrived = 0;
  let channel = Promise.resolve();
  closeWhenFinished(
    script,
    env,
    shared,
    record,
    instances.map((i) => i.graft),
    () => arrived,
    options.cluster,
    operator,
  );
  const deliver = (messageId: string, text: string, arrive: () => void) => {
    const { clock, graft } =
      instances[Math.floor(env.rng.uniform(conversationId, messageId, 'route') * count)]!;
    return new Promise<void>((accepted) =>
      clock.defer(() => {
        arrived += 1;
        arrive();
        graft
          .receive({ conversationId, messageId, text })
          .catch((error: unknown) => record.errors.push(`receive ${messageId}: ${describe(error)}`))
          .finally(accepted);
      }),
    );
  };
  return {
    isLive: () => observer.live,
    receive: (messageId, text, arrive) => {
      channel = channel.then(() => deliver(messageId, text, arrive));
    },
  };
}

export interface ClusterRunOptions {
  instructions: string;
  onSettleDuringFirstCall?: 'restart' | 'rebase';
  cluster: ClusterOptions;
}

interface InstanceContext {
  conversationId: string;
  shared: MemoryStore;
  env: ClusterEnv;
  model: SimModel;
  record: ConversationRecord;
  observer: GraftObserver;
  options: ClusterRunOptions;
  /** `cancel_order` needs approval, with this bound (undefined: no approval). */
  approvalTimeoutMs: number | undefined;
}

/** Instance `i` of a conversation: its stalls and skew, and a graft on its clock, store view, model view and tools. */
function startInstance(
  i: number,
  { conversationId, shared, env, model, record, observer, options, approvalTimeoutMs }: InstanceContext,
): { clock: InstanceClock; graft: Graft } {
  const { cluster } = options;
  const { skewMs, stalls } = instanceFaults(env.rng, conversationId, i, 0, cluster.faults);
  const spin = () =>
    record.errors.push(
      `instance i${i} set over 10,000 timers at ${Math.round(env.clock.now())} ms: a busy loop`,
    );
  const clock = new InstanceClock(env.clock, skewMs, stalls, spin);
  const graft = createGraft({
    store: instanceStore(shared, clock),
    model: model.via(clock),
    tools: env.shops.tools(clock, `i${i}`, approvalTimeoutMs),
    clock,
    instanceId: `i${i}`,
    instructions: options.instructions,
    modelTimeoutMs: cluster.modelTimeoutMs,
    limits: cluster.limits,
    pollMs: cluster.pollMs,
    ...(options.onSettleDuringFirstCall ? { onSettleDuringFirstCall: options.onSettleDuringFirstCall } : {}),
    onEvent: (_id, event, state) => observer.onEvent(event, state),
    deliver: (delivery) => observer.delivered(delivery.replyId),
    onError: (error) => record.errors.push(`instance i${i}: ${describe(error)}`),
  });
  return { clock, graft };
}

/**
 * Checks, from the last message on, whether the conversation is finished: every message reached
 * graft, the store lists it as having no work left (a request for approval is work: it expires),
 * no tool is still running (a late run may still settle), and the operator has no act under way
 * and no takeover left to make or end. Then, or at the deadline, closes every instance.
 */
function closeWhenFinished(
  script: CustomerScript,
  env: ClusterEnv,
  store: MemoryStore,
  record: ConversationRecord,
  grafts: Graft[],
  arrived: () => number,
  cluster: ClusterOptions,
  operator: SimOperator | null,
): void {
  const lastAt = script.messages.at(-1)?.atMs ?? 0;
  const check = async () => {
    const done =
      arrived() === script.messages.length &&
      (operator?.finished ?? true) &&
      (await store.unfinished()).length === 0 &&
      record.invocations.every((i) => i.endOp !== null);
    const late = env.clock.now() >= lastAt + cluster.deadlineMs;
    if (!done && !late) {
      env.clock.setTimer(env.clock.now() + cluster.reapEveryMs, () => void check());
      return;
    }
    if (!done) record.errors.push(`still unfinished ${cluster.deadlineMs} ms after the last message`);
    operator?.stop();
    await Promise.all(grafts.map((g) => g.close()));
  };
  env.clock.setTimer(lastAt + cluster.reapEveryMs, () => void check());
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
