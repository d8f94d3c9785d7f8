import type { Brain, BrainOutput } from '../core/brain.js';
import { notices } from '../core/context.js';
import type { InputItem } from '../core/items.js';
import { rejectionOutput } from '../core/state.js';
import { KeyedRandom, hashString } from './rng.js';

/** The shop's write tools: the ones the adversary repeats. */
const WRITE_TOOLS: ReadonlySet<string> = new Set(['create_order', 'update_order', 'cancel_order']);
/** The statuses of graft's notices that do not prove an effect done (see `notices` in src/core/context.ts). */
const UNPROVEN: ReadonlySet<string> = new Set(['running', 'unknown', 'not_executed']);
/** The status of a request that awaits a person's approval (`notices.awaiting`). */
const AWAITING = 'awaiting_approval';
/** graft's answers to a write refused because a request awaits approval, one per tool that may await. */
const AWAITING_REFUSALS: ReadonlySet<string> = new Set([...WRITE_TOOLS].map((t) => notices.awaitingOther(t)));
/**
 * How graft's outputs for a request that ended without running start (rejected, with or without
 * the person's note; expired; withdrawn): without the closing `"}`, which a note comes before.
 */
const REQUEST_ENDS: readonly string[] = (['rejected', 'expired', 'withdrawn'] as const).map((cause) =>
  rejectionOutput(cause, undefined).slice(0, -2),
);
/** What the adversary says instead of asking again for a write that graft keeps refusing. */
export const AWAITING_TEXT =
  'A colleague has to confirm this first; I will let you know as soon as they have. Nothing else can change until then.';
/** Items of the context's tail that its digest reads in full; the others count by length. */
const DIGEST_TAIL_ITEMS = 8;
const DIGEST_TEXT_CHARS = 48;

export interface AdversaryOptions {
  /** P(a response that calls a write calls it twice). */
  repeatWriteRate: number;
  /** P(a call's developer messages are all ignored). */
  ignoreDeveloperRate: number;
  /**
   * P(the model reads the contexts of a set of customer messages as they are, like the polite
   * clerk: it then answers "your order is being processed" about a running write). Such replies
   * are what follow-up turns exist for.
   */
  trustRate: number;
  /**
   * P(the model also ignores that a request awaits a person's approval, and asks for the write
   * again): graft must refuse every write while a request waits.
   */
  repeatAwaitingRate: number;
}

export const defaultAdversary: AdversaryOptions = {
  repeatWriteRate: 0.15,
  ignoreDeveloperRate: 0.5,
  trustRate: 0.2,
  repeatAwaitingRate: 0.5,
};

/**
 * The adversarial model: the shop clerk, made to write unless its context literally shows the
 * effect done. Before the clerk reads a context, every function call whose output says running,
 * unknown or not executed is taken out with its output (and, for some contexts, one that awaits a
 * person's approval), so the clerk believes nothing happened and asks for the write again; graft's
 * gates, not the model's good manners, must stop it. A person's decision is not a gate: how a
 * request for approval ended (rejected, expired, withdrawn) stays in view, as the clerk reads it
 * (asking again behind a rejection only makes the person decide again; a clerk that later saw the
 * rejection next to the approved retry would take the cancellation back and order again). It also sometimes calls a write twice in one
 * response and sometimes ignores developer messages; and now and then it reads the context as it
 * is, as the polite clerk does. Once graft has refused a write since the customer's latest
 * message because a request awaits approval, it says so instead of asking again (a model that
 * asked for ever would only end in graft's fallback reply, which tests nothing new).
 *
 * A brain gets only a context, so its randomness is drawn from a digest of (seed, context): the
 * same context gets the same answer, as the simulator's determinism needs.
 */
export function adversarialBrain(
  clerk: Brain,
  seed: number,
  options: AdversaryOptions = defaultAdversary,
): Brain {
  const rng = new KeyedRandom(seed);
  return (request) => {
    const digest = contextDigest(request.input);
    const ignoreDeveloper = rng.uniform(digest, 'ignore-developer') < options.ignoreDeveloperRate;
    // Drawn from the customer's messages alone, so that every call answering the same messages
    // (one attempt, its rebases) trusts alike: a polite attempt then replies while a write runs.
    const trusting = rng.uniform(messagesDigest(request.input), 'trust') < options.trustRate;
    const hideAwaiting = rng.uniform(digest, 'repeat-awaiting') < options.repeatAwaitingRate;
    const input = trusting ? request.input : unproven(request.input, ignoreDeveloper, hideAwaiting);
    const outputs = clerk({ ...request, input });
    if (refusedForApproval(request.input) && outputs.some(isWriteCall))
      return [{ type: 'message', text: AWAITING_TEXT }];
    const repeat = rng.uniform(digest, 'repeat-write') < options.repeatWriteRate;
    return repeat ? repeatWrites(outputs) : outputs;
  };
}

function isWriteCall(output: BrainOutput): boolean {
  return output.type === 'function_call' && WRITE_TOOLS.has(output.name);
}

/** Whether graft refused a write since the customer's latest message because a request awaits approval. */
function refusedForApproval(input: readonly InputItem[]): boolean {
  for (let i = input.length - 1; i >= 0; i -= 1) {
    const item = input[i]!;
    if (item.type === 'message' && item.role === 'user') return false;
    if (item.type === 'function_call_output' && AWAITING_REFUSALS.has(item.output)) return true;
  }
  return false;
}

/**
 * The context without the calls it does not prove done (and, when asked, without developer notes,
 * and without requests that await approval).
 * Each output is paired with the first unpaired call of its call id before it, and the pair goes
 * together: a context that (wrongly) reuses a call id keeps its other pairs.
 */
function unproven(input: readonly InputItem[], ignoreDeveloper: boolean, hideAwaiting: boolean): InputItem[] {
  const dropped = new Set<number>();
  const unpaired = new Map<string, number[]>();
  input.forEach((item, index) => {
    if (item.type === 'function_call')
      unpaired.set(item.call_id, [...(unpaired.get(item.call_id) ?? []), index]);
    if (item.type !== 'function_call_output') return;
    const call = unpaired.get(item.call_id)?.shift();
    const status = noticeStatus(item.output) ?? '';
    if (!UNPROVEN.has(status) && !(hideAwaiting && status === AWAITING)) return;
    if (status === 'not_executed' && REQUEST_ENDS.some((end) => item.output.startsWith(end))) return;
    dropped.add(index);
    if (call !== undefined) dropped.add(call);
  });
  return input.filter(
    (item, index) =>
      !dropped.has(index) && !(ignoreDeveloper && item.type === 'message' && item.role === 'developer'),
  );
}

/** The `status` of one of graft's JSON notices, or null for any other output. */
export function noticeStatus(output: string): string | null {
  if (!output.startsWith('{"status":"')) return null;
  const end = output.indexOf('"', 11);
  return end < 0 ? null : output.slice(11, end);
}

/** Every write call twice: the second is a copy the model "forgot" it had already asked for. */
function repeatWrites(outputs: readonly BrainOutput[]): BrainOutput[] {
  return outputs.flatMap((o) =>
    o.type === 'function_call' && WRITE_TOOLS.has(o.name) ? [o, { ...o }] : [o],
  );
}

/**
 * A digest of a context for keyed draws: its length and the start of its last items. Reading every
 * item in full would cost more than the clerk itself on long contexts; two contexts that share a
 * digest share their draws, which is all the determinism needs.
 */
function contextDigest(input: readonly InputItem[]): number {
  let h = hashString(String(input.length));
  for (let i = Math.max(0, input.length - DIGEST_TAIL_ITEMS); i < input.length; i += 1)
    h = hashString(itemText(input[i]!), h);
  return h;
}

/** A digest of the customer's messages in a context (their number and starts). */
function messagesDigest(input: readonly InputItem[]): number {
  let h = hashString('users');
  for (const item of input)
    if (item.type === 'message' && item.role === 'user') h = hashString(itemText(item), h);
  return h;
}

function itemText(item: InputItem): string {
  switch (item.type) {
    case 'message':
      return `m${item.role}:${typeof item.content === 'string' ? item.content.slice(0, DIGEST_TEXT_CHARS) : item.content.length}`;
    case 'function_call':
      return `c${item.call_id}:${item.name}:${item.arguments.slice(0, DIGEST_TEXT_CHARS)}`;
    case 'function_call_output':
      return `o${item.call_id}:${item.output.slice(0, DIGEST_TEXT_CHARS)}`;
    case 'reasoning':
      return `r${item.id}`;
  }
}
