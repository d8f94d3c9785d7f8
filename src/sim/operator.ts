import type { GraftEvent } from '../core/events.js';
import { OperatorError } from '../core/operator.js';
import type { Graft } from '../runtime/graft.js';
import type { InstanceClock } from './instance-clock.js';
import type { ConversationRecord, HumanRecord, OperatorAct, Recorder } from './recorder.js';
import type { KeyedRandom } from './rng.js';
import type { VirtualClock } from './virtual-clock.js';

/** How the simulated person at the operator's desk behaves. Shares are probabilities. */
export interface OperatorOptions {
  /**
   * How long a request for approval may wait, one drawn per conversation: some bounds are shorter
   * than the person's reaction, so that requests expire.
   */
  approvalTimeoutsMs: readonly number[];
  /** Mean time between two looks at the conversation's requests (`graft.approvals()`). */
  lookEveryMeanMs: number;
  /** P(the person looks at once when a request is made: the desk shows it), and the mean delay. */
  reactShare: number;
  reactMeanMs: number;
  /** What the person does with a request the first time they see it; the rest is left to expire. */
  approveShare: number;
  rejectShare: number;
  /** From seeing a request to deciding on it: it may be withdrawn, or expire, meanwhile. */
  thinkMeanMs: number;
  /**
   * P(a look also decides again on a request seen before that is no longer pending: decided,
   * expired or withdrawn). graft must refuse it (`request_not_pending`).
   */
  lateDecisionShare: number;
  /** Most such late decisions per conversation. */
  maxLateDecisions: number;
  /** P(the conversation is taken over), and P(it is taken over again after the release). */
  takeoverShare: number;
  secondTakeoverShare: number;
  /**
   * How the moment of a takeover is chosen: at a random time, as a write starts (it then lands
   * while the write runs), as a model call starts (it lands while the call is in flight), or as the
   * bot replies while a request waits (the person then decides it while they have the conversation).
   */
  takeoverMomentWeights: readonly [random: number, onWrite: number, onModelCall: number, onRequest: number];
  /** P(0, 1, 2 operator replies) per takeover. */
  replyWeights: readonly number[];
  replyGapMeanMs: number;
  /** How long the person keeps the conversation after their last reply, before releasing it. */
  holdMeanMs: number;
  /** A triggered takeover that nothing triggered happens this long after the last message. */
  takeoverDeadlineMs: number;
  /**
   * P(the person sends one more reply after releasing the conversation, as from a stale screen):
   * graft must refuse it (`not_taken_over`).
   */
  lateReplyShare: number;
}

export const defaultOperator: OperatorOptions = {
  approvalTimeoutsMs: [1_500, 4_000, 12_000, 30_000],
  lookEveryMeanMs: 5_000,
  reactShare: 0.5,
  reactMeanMs: 1_200,
  approveShare: 0.5,
  rejectShare: 0.25,
  thinkMeanMs: 1_500,
  lateDecisionShare: 0.3,
  maxLateDecisions: 2,
  takeoverShare: 0.3,
  secondTakeoverShare: 0.25,
  takeoverMomentWeights: [0.35, 0.25, 0.25, 0.15],
  replyWeights: [0.3, 0.45, 0.25],
  replyGapMeanMs: 2_500,
  holdMeanMs: 4_000,
  takeoverDeadlineMs: 8_000,
  lateReplyShare: 0.2,
};

/** The tools whose writes need a person's approval in the adversarial world. */
export const APPROVAL_TOOLS: readonly string[] = ['cancel_order'];

const OPERATOR = 'ana';
const REPLIES = [
  'Hi, this is Ana from the shop. I am looking at your order now.',
  'Thanks for your patience: everything is noted on our side.',
];
const NOTES = ['The order is already with the kitchen.', 'Please call the shop to cancel.'];

/** One graft instance as the person reaches it: its name, its (skewed, stalling) clock, its API. */
export interface OperatorInstance {
  name: string;
  clock: InstanceClock;
  graft: Graft;
}

interface OperatorEnv {
  clock: VirtualClock;
  rng: KeyedRandom;
  recorder: Recorder;
}

type TakeoverMoment = 'random' | 'write' | 'model-call' | 'request';

/**
 * A person at the operator's desk for one conversation, acting through graft's public API on any
 * of the conversation's instances (an act sent to a frozen instance waits for it to wake, as an
 * HTTP request would). They look at the requests for approval now and then, and at once when one
 * is made; approve, reject with a note, or leave each to expire; sometimes decide again on a
 * request that is no longer pending (graft must refuse); and may take the conversation over at a
 * random moment, as a write or a model call starts, or as the bot tells the customer that a
 * colleague will confirm a request; review the requests, reply 0–2 times, and release it (and now
 * and then reply once more after the release, which graft must refuse).
 *
 * Every act and graft's answer is logged in the record (`humans.acts`) for the checker. Draws are
 * keyed by the conversation and a count of the person's draws, so a run is deterministic.
 */
export class SimOperator {
  private stopped = false;
  /** Acts scheduled or running. */
  private busy = 0;
  /** A takeover planned, waiting for its trigger, or under way. */
  private takeoverPending = false;
  private trigger: { moment: Exclude<TakeoverMoment, 'random'>; from: number; fire: () => void } | null =
    null;
  private draws = 0;
  /** The requests the person has seen, by approval id, with what they chose to do. */
  private readonly seen = new Map<string, 'approve' | 'reject' | 'leave'>();
  private readonly lateDecided = new Set<string>();
  private readonly humans: HumanRecord;
  private readonly errors: string[];

  constructor(
    private readonly conversationId: string,
    private readonly env: OperatorEnv,
    record: ConversationRecord,
    private readonly instances: readonly OperatorInstance[],
    private readonly options: OperatorOptions,
  ) {
    this.humans = record.humans!;
    this.errors = record.errors;
  }

  /** Plans the looks and the takeover of a conversation whose messages run from `firstAtMs` to `lastAtMs`. */
  start(firstAtMs: number, lastAtMs: number): void {
    this.scheduleLook(firstAtMs + this.exponential(this.options.lookEveryMeanMs, 'look'), true);
    if (this.uniform('takeover') >= this.options.takeoverShare) return;
    this.takeoverPending = true;
    const moments: TakeoverMoment[] = ['random', 'write', 'model-call', 'request'];
    const moment = moments[this.pick(this.options.takeoverMomentWeights, 'moment')]!;
    const deadline = lastAtMs + this.options.takeoverDeadlineMs;
    // A takeover on a request may come at the first one; the others wait for a random moment first.
    const from = moment === 'request' ? firstAtMs : firstAtMs + this.uniform('from') * (lastAtMs - firstAtMs);
    if (moment === 'random') {
      this.env.clock.setTimer(firstAtMs + this.uniform('at') * (deadline - firstAtMs), () =>
        this.takeOver(0),
      );
      return;
    }
    // Fired once: by the first start after `from` (from a timer of its own, never inside graft's
    // fold), or at the deadline.
    const fire = () => {
      if (this.trigger === null) return;
      this.trigger = null;
      cancel();
      this.env.clock.setTimer(this.env.clock.now(), () => this.takeOver(0));
    };
    const cancel = this.env.clock.setTimer(deadline, fire);
    this.trigger = { moment, from, fire };
  }

  /** Whether the person has nothing left to do but look (the conversation may be closed). */
  get finished(): boolean {
    return this.busy === 0 && !this.takeoverPending;
  }

  /** The conversation is closed: the person does nothing more. */
  stop(): void {
    this.stopped = true;
  }

  /** Hears each event of graft's log once: a new request may catch the person's eye; a start may trigger the takeover. */
  onEvent(event: GraftEvent): void {
    if (this.stopped) return;
    if (event.type === 'effect.started' && event.effects.some((e) => e.approval)) {
      if (this.uniform('react') < this.options.reactShare)
        this.scheduleLook(
          this.env.clock.now() + this.exponential(this.options.reactMeanMs, 'react-ms'),
          false,
        );
    }
    const trigger = this.trigger;
    if (!trigger || this.env.clock.now() < trigger.from) return;
    if (this.triggers(trigger.moment, event)) trigger.fire();
  }

  /** Whether an event is the moment a triggered takeover waits for. */
  private triggers(moment: Exclude<TakeoverMoment, 'random'>, event: GraftEvent): boolean {
    switch (moment) {
      case 'write':
        return (
          (event.type === 'effect.started' && event.effects.some((e) => !e.approval)) ||
          event.type === 'effect.approved'
        );
      case 'model-call':
        return event.type === 'model.requested';
      case 'request':
        // The bot told the customer that a colleague will confirm: the colleague takes it from there.
        return (
          event.type === 'reply.committed' &&
          event.kind !== 'operator' &&
          [...this.humans.requests.values()].some((r) => r.decision === null)
        );
    }
  }

  private scheduleLook(at: number, periodic: boolean): void {
    this.env.clock.setTimer(at, () => {
      if (this.stopped) return;
      if (periodic) this.scheduleLook(at + this.exponential(this.options.lookEveryMeanMs, 'look'), true);
      this.look();
    });
  }

  /**
   * Looks at the conversation's requests. Nothing to see (no request waits, none seen before to
   * decide on again) costs no call: `approvals()` would list nothing the person could act on.
   */
  private look(review = false): void {
    const waiting = [...this.humans.requests.values()].some((r) => r.decision === null);
    const late =
      this.seen.size > this.lateDecided.size && this.lateDecided.size < this.options.maxLateDecisions;
    if (!waiting && !late) return;
    this.busy += 1;
    const instance = this.via('look');
    instance.clock.defer(() => {
      instance.graft
        .approvals()
        .then((pending) =>
          this.consider(
            pending.map((p) => p.id),
            review,
          ),
        )
        .catch((error: unknown) =>
          this.errors.push(`operator: approvals() on ${instance.name}: ${describe(error)}`),
        )
        .finally(() => (this.busy -= 1));
    });
  }

  /**
   * Draws what to do with each request seen for the first time (in a review, also with those left
   * so far); maybe decides again on an old one.
   */
  private consider(pending: readonly string[], review: boolean): void {
    if (this.stopped) return;
    for (const id of pending) {
      const seen = this.seen.get(id);
      if (seen !== undefined && !(review && seen === 'leave')) continue;
      const u = this.uniform('choice');
      const choice =
        u < this.options.approveShare
          ? 'approve'
          : u < this.options.approveShare + this.options.rejectShare
            ? 'reject'
            : 'leave';
      this.seen.set(id, choice);
      if (choice !== 'leave')
        this.later(this.exponential(this.options.thinkMeanMs, 'think'), () => this.decide(id, choice, false));
    }
    if (
      this.lateDecided.size >= this.options.maxLateDecisions ||
      this.uniform('late') >= this.options.lateDecisionShare
    )
      return;
    // Seen before and not listed now: decided, expired or withdrawn.
    const gone = [...this.seen.keys()].filter((id) => !pending.includes(id) && !this.lateDecided.has(id));
    const id = gone[Math.floor(this.uniform('late-pick') * gone.length)];
    if (id === undefined) return;
    this.lateDecided.add(id);
    this.decide(id, this.uniform('late-decision') < 0.5 ? 'approve' : 'reject', true);
  }

  private decide(id: string, decision: 'approve' | 'reject', late: boolean): void {
    const operator = `${OPERATOR}/d${this.draws}`;
    const note = decision === 'reject' ? { note: NOTES[this.pick([1, 1], 'note')]! } : {};
    const effectId = id.slice(id.lastIndexOf(':') + 1);
    void this.act('decide', { operator, effectId, decision, late }, (graft) =>
      graft.decide(id, { decision, operator, ...note }),
    );
  }

  /** Takes the conversation over, replies 0–2 times, releases it; perhaps once more. */
  private takeOver(round: number): void {
    if (this.stopped) return;
    void (async () => {
      const taken = await this.act('take-over', { operator: OPERATOR }, (graft) =>
        graft.takeOver(this.conversationId, OPERATOR),
      );
      if (taken) {
        // Having taken the conversation, the person reviews what waits in it, and may now decide
        // what they had left.
        this.look(true);
        const replies = this.pick(this.options.replyWeights, 'replies');
        for (let i = 0; i < replies; i += 1) {
          await this.sleep(this.exponential(this.options.replyGapMeanMs, 'reply-gap'));
          await this.act('reply', { operator: OPERATOR }, (graft) =>
            graft.operatorReply(this.conversationId, REPLIES[i % REPLIES.length]!),
          );
        }
        await this.sleep(this.exponential(this.options.holdMeanMs, 'hold'));
        const released = await this.act('release', { operator: OPERATOR }, (graft) =>
          graft.release(this.conversationId),
        );
        if (released && this.uniform('late-reply') < this.options.lateReplyShare) {
          await this.sleep(this.exponential(this.options.replyGapMeanMs, 'late-reply-ms'));
          await this.act('reply', { operator: OPERATOR, late: true }, (graft) =>
            graft.operatorReply(this.conversationId, REPLIES[0]!),
          );
        }
      }
      if (taken && round === 0 && this.uniform('again') < this.options.secondTakeoverShare) {
        await this.sleep(this.exponential(this.options.holdMeanMs * 2, 'again-ms'));
        this.takeOver(1);
        return;
      }
      this.takeoverPending = false;
    })();
  }

  /**
   * One act through one instance (deferred while it is frozen), logged with graft's answer: `ok`,
   * an `OperatorError`'s code, or the error. True when it succeeded.
   */
  private act(
    kind: OperatorAct['kind'],
    fields: Pick<OperatorAct, 'operator'> & Partial<OperatorAct>,
    run: (graft: Graft) => Promise<unknown>,
  ): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    this.busy += 1;
    const instance = this.via(kind);
    return new Promise<boolean>((resolve) =>
      instance.clock.defer(() => {
        const entry: OperatorAct = {
          kind,
          via: instance.name,
          ...fields,
          startOp: this.env.recorder.nextOp(),
          endOp: null,
          endInstanceMs: null,
          outcome: null,
        };
        this.humans.acts.push(entry);
        run(instance.graft)
          .then(
            () => (entry.outcome = 'ok'),
            (error: unknown) =>
              (entry.outcome = error instanceof OperatorError ? error.code : `error: ${describe(error)}`),
          )
          .finally(() => {
            entry.endOp = this.env.recorder.nextOp();
            entry.endInstanceMs = instance.clock.now();
            this.busy -= 1;
            resolve(entry.outcome === 'ok');
          });
      }),
    );
  }

  /** Runs `fn` after `ms`, counting it as an act under way meanwhile. */
  private later(ms: number, fn: () => void): void {
    this.busy += 1;
    this.env.clock.setTimer(this.env.clock.now() + ms, () => {
      this.busy -= 1;
      if (!this.stopped) fn();
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.env.clock.setTimer(this.env.clock.now() + ms, resolve));
  }

  private via(purpose: string): OperatorInstance {
    return this.instances[Math.floor(this.uniform('via', purpose) * this.instances.length)]!;
  }

  private uniform(...key: string[]): number {
    return this.env.rng.uniform(this.conversationId, 'operator', (this.draws += 1), ...key);
  }

  private exponential(mean: number, key: string): number {
    return this.env.rng.exponential(mean, this.conversationId, 'operator', (this.draws += 1), key);
  }

  private pick(weights: readonly number[], key: string): number {
    return this.env.rng.pick(weights, this.conversationId, 'operator', (this.draws += 1), key);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
