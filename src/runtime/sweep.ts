import type { CoreConfig } from '../core/config.js';
import { plan } from '../core/plan.js';
import type { ConversationKey, EventStore } from '../core/ports.js';
import type { ConversationState } from '../core/state.js';
import { evolve, initialState, leased } from '../core/state.js';

/** What the sweep found a conversation to need from this instance. */
export type SweepFinding =
  /** Something to do now (start an attempt, claim an expired lease, deliver, reconcile…): load it. */
  | { kind: 'act' }
  /**
   * Nothing before `recheckAt` (null: no time): the work left is another instance's, under leases
   * that have not expired; anything that changes it is appended by an instance that has it loaded.
   */
  | { kind: 'covered'; recheckAt: number | null };

/**
 * Whether a conversation loaded here is another instance's to serve: its latest attempt is
 * another instance's, this instance holds no lease in it, and the core has nothing for this
 * instance to do now. The sweep drops such a conversation when its actor is dormant (see
 * `ConversationActor.dormant`): kept, it would be driven on each of the owner's appends and race
 * the owner for the next decision. A message that reaches this instance loads it again.
 */
export function servedElsewhere(state: ConversationState, config: CoreConfig, now: number): boolean {
  const me = config.instanceId;
  const latest = [...state.attempts.values()].at(-1);
  if (latest === undefined || latest.owner === me) return false;
  const live = state.live === null ? undefined : state.attempts.get(state.live);
  if (live?.owner === me) return false;
  for (const effect of state.effects.values()) if (leased(effect) && effect.owner === me) return false;
  return nothingToDo(plan(state, config, now));
}

/** Nothing to append and no I/O to start (aborting a model call is for the instance that runs it). */
function nothingToDo(next: ReturnType<typeof plan>): boolean {
  return next.kind === 'io' && next.commands.every((c) => c.type === 'abort-model');
}

/**
 * The multi-instance sweep's look at an unfinished conversation that this instance has not loaded:
 * its log is read (and folded, nothing hears it) and the core is asked what this instance would do
 * now — the same `plan` a loaded actor drives by. A conversation is loaded only when the answer is
 * something to do. Loaded without need, a conversation that a live peer serves would be driven here
 * too, on every append the peer makes: both instances would race to make each decision that any
 * instance may make (the attempt that answers each new message), and one of them would lose it at
 * the append (a conflict), or win it and pull the conversation's work over from its owner.
 *
 * Recovery is not weakened: a plan that claims an expired lease, delivers a reply whose owner's
 * lease ran out, reconciles a lost write, or starts an attempt for waiting messages or an owed
 * follow-up is something to do; and while the work is covered, `recheckAt` is when the core would
 * next wake for it (the earliest lease expiry, among others), so the caller looks again then.
 */
export async function sweepCheck(
  store: EventStore,
  key: ConversationKey,
  config: CoreConfig,
  now: number,
): Promise<SweepFinding> {
  let state = initialState(key.conversationId);
  for (const event of await store.read(key, 0)) state = evolve(state, event);
  const next = plan(state, config, now);
  return next.kind === 'io' && nothingToDo(next)
    ? { kind: 'covered', recheckAt: next.wakeAt }
    : { kind: 'act' };
}
