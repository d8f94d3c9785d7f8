import type { Brain, BrainOutput, BrainRequest } from '../../core/brain.js';
import { canonicalJson } from '../../tools/define-tool.js';
import {
  type Catalogue,
  defaultCatalogue,
  describeLine,
  findProduct,
  formatPrice,
  joinWords,
} from '../shop/catalogue.js';
import {
  applyIntent,
  canonicalLines,
  type DesiredOrder,
  type Intent,
  type OrderLine,
  parseIntents,
  unrecognisedProducts,
} from './language.js';
import {
  approvedText,
  awaitingText,
  type DeclineCause,
  declinedText,
  heldText,
  operatorOfNote,
  quoteSentence,
  readRequestNote,
  requestWhat,
} from './humans.js';
import { deepFreeze, memoByText } from './memo.js';

/**
 * The shop clerk: a deterministic, rational model brain for the demo shop. It reads the whole
 * context and decides from it alone (no clock, no randomness, no memory between calls), so the
 * same context always gets the same answer and every mistake it makes is the context's fault:
 * it creates an order only when its context shows none done, running or of unknown outcome.
 *
 * It knows about people in the loop too: a write that awaits a member of staff's approval is
 * never asked for again while it waits (the customer is told a colleague will confirm it); a
 * request that was rejected or expired is reported and not retried until the customer asks
 * again; and a reply a member of staff sent while they had the conversation is acknowledged in
 * the clerk's next answer.
 */

const WRITE_TOOLS: ReadonlySet<string> = new Set(['create_order', 'update_order', 'cancel_order']);
/** The tools the clerk knows how to use (those of the demo shop); it leaves any other tool alone. */
export const CLERK_TOOLS: readonly string[] = [...WRITE_TOOLS, 'get_order', 'list_products'];
/**
 * A call that failed this often since the customer last wrote is not tried again: the clerk
 * apologises instead. Five tries ride out transient failures (at the simulator's 2% failure rate,
 * one write in about 300 million gives up; with three, one in 125,000 did, and a 5,000-conversation
 * run with faults met one) while a call that can never succeed still ends in a reply.
 */
const DEFAULT_MAX_FAILED_TRIES = 5;
/** Most products a text lists, so replies stay short whatever the catalogue. */
const MAX_LISTED = 10;
const FALLBACK_TEXT =
  'Sorry, something went wrong on my side. Could you tell me again what you would like to order?';

export interface ShopClerkOptions {
  /** The products the clerk knows (the demo shop's by default). */
  catalogue?: Catalogue;
  /** How often the same call may fail since the customer's latest message before the clerk gives up (default 3). */
  maxFailedTries?: number;
}

/**
 * Creates the shop clerk brain.
 *
 * @example
 * const clerk = createShopClerk();
 * clerk({ model: 'clerk', instructions: null, tools, input: [{ type: 'message', role: 'user', content: "I'd like 2 pizzas" }] });
 * // [{ type: 'function_call', name: 'create_order', arguments: '{"items":[{"product":"pizza","quantity":2}]}' }]
 */
export function createShopClerk(options: ShopClerkOptions = {}): Brain {
  const catalogue = options.catalogue ?? defaultCatalogue;
  const maxFailedTries = Math.max(1, options.maxFailedTries ?? DEFAULT_MAX_FAILED_TRIES);
  return (request) => {
    try {
      const decision = decide(situationOf(request, catalogue, maxFailedTries));
      return Array.isArray(decision) ? decision : [decision];
    } catch {
      // The brain must answer anything a host sends; a bug here must not take the host down.
      return [{ type: 'message', text: FALLBACK_TEXT }];
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Reading the context

interface UserMessage {
  position: number;
  text: string;
  /** The last intent the message states (most messages state one). */
  intent: Intent;
  /** Every intent it states, in order: a cancellation and a new order in one breath are two. */
  intents: readonly Intent[];
}

/** One function_call_output, with the call it answers. */
interface Observation {
  callId: string;
  name: string;
  argsText: string;
  output: string;
  position: number;
}

type MenuEntry = { product: string; priceCents: number };

/** What one output says happened to its call. */
type Outcome =
  | { kind: 'not_executed' }
  | { kind: 'running' }
  /** A write that waits for a member of staff's approval: it has not run. */
  | { kind: 'awaiting' }
  /** A write refused because an earlier `tool` call awaits approval. */
  | { kind: 'held'; tool: string }
  /** A request for approval that ended without running; `note` is the person's, or ''. */
  | { kind: 'declined'; cause: DeclineCause; note: string }
  | { kind: 'unknown' }
  | { kind: 'failed'; message: string }
  /** A write's result, or what get_order found. */
  | { kind: 'order'; order: KnownOrder }
  /** get_order found no order. */
  | { kind: 'no_order' }
  | { kind: 'menu'; menu: MenuEntry[] }
  /** The result of a tool the clerk does not know: it tells nothing about the shop. */
  | { kind: 'other' };

/** A call as the context last described it; a graft's later pairs update the same entry. */
interface CallRecord {
  name: string;
  args: Record<string, unknown> | null;
  argsKey: string;
  /** Where the call first showed up: its place in the shop's history. */
  firstPosition: number;
  /** Where its latest status showed up. */
  lastPosition: number;
  graft: boolean;
  /** The context once said this write awaited approval (so its result is a person's decision). */
  requested: boolean;
  outcome: Outcome;
}

interface KnownOrder {
  orderId: string;
  status: string;
  items: OrderLine[];
  /** `canonicalLines(items)`, computed once with the order. */
  lines: OrderLine[];
}

/** What the context says about the shop. */
interface Known {
  order: KnownOrder | null;
  menu: MenuEntry[] | null;
  pending: CallRecord[];
  uncertain: CallRecord[];
  /** Writes that await a member of staff's approval. */
  awaiting: CallRecord[];
  lastGetOrderPosition: number;
  lastListProductsPosition: number;
  /**
   * Every order the context names, by id (its latest state, and where it first showed up), kept
   * only when the customer asked to replace their order (see {@link replacingWrites}).
   */
  orders: Map<string, SeenOrder>;
}

interface SeenOrder {
  order: KnownOrder;
  firstPosition: number;
}

interface OperatorReply {
  position: number;
  operator: string;
  text: string;
}

interface Situation {
  catalogue: Catalogue;
  maxFailedTries: number;
  /** The request's tool declarations, untrusted (see {@link offersTool}). */
  tools: unknown;
  users: UserMessage[];
  lastAssistantPosition: number;
  /** The latest assistant message a member of staff wrote (a developer note says so), if any. */
  operatorReply: OperatorReply | null;
  desired: DesiredOrder;
  records: CallRecord[];
  known: Known;
  /** Where the customer last asked to cancel their order and order something else instead, or -1. */
  replaceAt: number;
  /** What the customer sent since the clerk's last message that it cannot look at. */
  unread: { images: boolean; files: boolean };
}

function situationOf(request: BrainRequest, catalogue: Catalogue, maxFailedTries: number): Situation {
  const items: unknown[] = Array.isArray(request.input) ? (request.input as unknown[]) : [];
  const users: UserMessage[] = [];
  const calls = new Map<string, { name: string; argsText: string }>();
  const outputs: { callId: string; output: string; position: number }[] = [];
  let lastAssistantPosition = -1;
  let operatorReply: OperatorReply | null = null;
  /** The member of staff a developer note named as the author of the next assistant message. */
  let byOperator: string | null = null;
  // A plain loop, not forEach: this runs over every item of every call. Holes read as undefined.
  for (let position = 0; position < items.length; position += 1) {
    const item = items[position];
    if (!isRecord(item)) continue;
    const type = item.type;
    if (type === 'message') {
      if (item.role === 'user') {
        const text = contentText(item.content);
        const intents = parseIntents(text, catalogue);
        users.push({ position, text, intent: intents[intents.length - 1]!, intents });
      } else if (item.role === 'assistant') {
        lastAssistantPosition = position;
        if (byOperator !== null) {
          operatorReply = { position, operator: byOperator, text: contentText(item.content) };
        }
      }
      // The note that names a member of staff holds for the assistant message right after it only.
      byOperator = item.role === 'developer' ? operatorOfNote(contentText(item.content)) : null;
      continue;
    }
    byOperator = null;
    if (type === 'function_call') {
      if (typeof item.call_id === 'string' && typeof item.name === 'string') {
        calls.set(item.call_id, {
          name: item.name,
          argsText: typeof item.arguments === 'string' ? item.arguments : '',
        });
      }
    } else if (type === 'function_call_output' && typeof item.call_id === 'string') {
      const output = typeof item.output === 'string' ? item.output : safeJson(item.output);
      outputs.push({ callId: item.call_id, output, position });
    }
  }
  // A call without its output is still in flight somewhere: it tells nothing yet.
  const observations: Observation[] = [];
  for (const o of outputs) {
    const call = calls.get(o.callId);
    if (call)
      observations.push({
        callId: o.callId,
        output: o.output,
        position: o.position,
        name: call.name,
        argsText: call.argsText,
      });
  }
  const records = buildRecords(observations);
  const desired = desiredOf(users, records, catalogue);
  let replaceAt = -1;
  for (const user of users) if (user.intents.length > 1) replaceAt = user.position;
  return {
    catalogue,
    maxFailedTries,
    tools: request.tools,
    users,
    lastAssistantPosition,
    operatorReply,
    desired,
    records,
    known: knownShop(records, replaceAt),
    replaceAt,
    unread: unreadSince(request, lastAssistantPosition),
  };
}

/** The pictures and files in the customer's messages since the clerk last wrote. */
function unreadSince(request: BrainRequest, after: number): { images: boolean; files: boolean } {
  const unread = { images: false, files: false };
  const attachments: unknown = request.attachments;
  if (!Array.isArray(attachments)) return unread;
  for (const attachment of attachments as unknown[]) {
    if (!isRecord(attachment) || typeof attachment.index !== 'number' || attachment.index <= after) continue;
    const item: unknown = request.input[attachment.index];
    if (!isRecord(item) || item.role !== 'user') continue;
    if (attachment.kind === 'image') unread.images = true;
    else unread.files = true;
  }
  return unread;
}

/**
 * One record per call, in context order. A graft's later pair (`graft_<effectId>_<n>`) updates
 * its effect's record, so later news wins; the first graft of an effect this branch asked for
 * itself (answered "running", or "awaiting approval", under the model's call id) is matched by
 * name and arguments.
 */
function buildRecords(observations: readonly Observation[]): CallRecord[] {
  const records: CallRecord[] = [];
  // Keyed by effect id for a graft's pairs, by call id for the others.
  const byEffect = new Map<string, CallRecord>();
  const byCall = new Map<string, CallRecord>();
  for (const observation of observations) {
    const outcome = outcomeOf(observation.name, observation.output);
    const graft = observation.callId.startsWith('graft_')
      ? /^graft_(.+)_(\d+)$/.exec(observation.callId)
      : null;
    const byKey = graft ? byEffect : byCall;
    const key = graft ? (graft[1] ?? '') : observation.callId;
    const { args, argsKey } = readArgs(observation.argsText);
    const twin =
      graft && outcome.kind !== 'not_executed'
        ? records.find(
            (r) =>
              (isUnsettled(r) || r.outcome.kind === 'awaiting') &&
              !r.graft &&
              r.name === observation.name &&
              r.argsKey === argsKey,
          )
        : undefined;
    const existing = byKey.get(key) ?? twin;
    if (existing) {
      existing.outcome = outcome;
      existing.lastPosition = observation.position;
      if (outcome.kind === 'awaiting') existing.requested = true;
      byKey.set(key, existing);
      continue;
    }
    const record: CallRecord = {
      name: observation.name,
      args,
      argsKey,
      firstPosition: observation.position,
      lastPosition: observation.position,
      graft: graft !== null,
      requested: outcome.kind === 'awaiting',
      outcome,
    };
    records.push(record);
    byKey.set(key, record);
  }
  return records;
}

/**
 * What the customer wants after their messages: the fold of their intents. The fold is
 * remembered as a machine: each state is a distinct desired order (equal orders share one
 * state), and each intent moves a state to the next. Transitions are keyed by the intent object:
 * `parseMessage` hands out one frozen intent per text, so the key is exact and cheap to look up.
 */
interface DesiredState {
  desired: DesiredOrder;
  next: Map<Intent, DesiredState>;
}
interface DesiredMachine {
  start: DesiredState;
  /** The states by their order's JSON (quantities are positive integers, so JSON is exact). */
  states: Map<string, DesiredState>;
  transitions: number;
}
const desiredMachines = new WeakMap<Catalogue, DesiredMachine>();
/** Transitions remembered before the machine starts afresh (5,000 simulated conversations learn about 17,000). */
const MAX_DESIRED_TRANSITIONS = 100_000;

function desiredAfter(users: readonly UserMessage[], catalogue: Catalogue): DesiredOrder {
  let machine = desiredMachines.get(catalogue);
  if (!machine || machine.transitions >= MAX_DESIRED_TRANSITIONS) {
    machine = { start: { desired: null, next: new Map() }, states: new Map(), transitions: 0 };
    desiredMachines.set(catalogue, machine);
  }
  let state = machine.start;
  for (const user of users) {
    for (const intent of user.intents) {
      let next = state.next.get(intent);
      if (!next) {
        const desired = applyIntent(state.desired, intent);
        const key = JSON.stringify(desired);
        next = machine.states.get(key);
        if (!next) {
          next = { desired: deepFreeze(desired), next: new Map() };
          machine.states.set(key, next);
        }
        state.next.set(intent, next);
        machine.transitions += 1;
      }
      state = next;
    }
  }
  return state.desired;
}

/**
 * What the customer wants, knowing how their requests for approval ended. A cancellation that a
 * member of staff rejected, that expired or that was withdrawn did not happen: the customer's
 * earlier "cancel" is undone where the context says so, and only a later "cancel" asks again.
 */
function desiredOf(
  users: readonly UserMessage[],
  records: readonly CallRecord[],
  catalogue: Catalogue,
): DesiredOrder {
  const declined: number[] = [];
  for (const r of records) {
    if (r.name === 'cancel_order' && r.outcome.kind === 'declined') declined.push(r.lastPosition);
  }
  if (declined.length === 0) return desiredAfter(users, catalogue);
  declined.sort((a, b) => a - b);
  let desired: DesiredOrder = null;
  let next = 0;
  const undoCancel = (before: number) => {
    for (; next < declined.length && (declined[next] ?? Infinity) < before; next += 1) {
      if (desired?.cancelled && desired.items.length > 0)
        desired = { items: desired.items, cancelled: false };
    }
  };
  for (const user of users) {
    undoCancel(user.position);
    for (const intent of user.intents) desired = applyIntent(desired, intent);
  }
  undoCancel(Infinity);
  return desired;
}

/** What an output says happened, remembered per tool name and exact output text. */
const outcomeMemos = new Map<string, (output: string) => Outcome>();
const MAX_OUTCOME_MEMOS = 64;

function outcomeOf(name: string, output: string): Outcome {
  let memo = outcomeMemos.get(name);
  if (!memo) {
    if (outcomeMemos.size >= MAX_OUTCOME_MEMOS) outcomeMemos.clear();
    memo = memoByText((text) => classifyOutput(name, text));
    outcomeMemos.set(name, memo);
  }
  return memo(output);
}

function isUnsettled(record: CallRecord): boolean {
  return record.outcome.kind === 'running' || record.outcome.kind === 'unknown';
}

/**
 * What an output says happened, read by the call's name. An output that cannot be read is an
 * unknown outcome for a write (it may have happened) and a failure for a read (it told nothing).
 */
function classifyOutput(name: string, output: string): Outcome {
  const write = WRITE_TOOLS.has(name);
  const value = parseJson(output);
  const notice = isRecord(value) ? noticeOf(value, write) : null;
  if (notice) return notice;
  const unreadable: Outcome = write ? { kind: 'unknown' } : { kind: 'failed', message: 'unreadable result' };
  if (write || name === 'get_order') {
    const order = orderOf(value);
    if (order) return { kind: 'order', order };
    const notFound = name === 'get_order' && isRecord(value) && value.status === 'not_found';
    return notFound ? { kind: 'no_order' } : unreadable;
  }
  if (name === 'list_products') {
    const menu = menuOf(value);
    return menu ? { kind: 'menu', menu } : unreadable;
  }
  return { kind: 'other' };
}

/** The outputs graft writes itself (an error, or a write not run, running or of unknown outcome). */
function noticeOf(value: Record<string, unknown>, write: boolean): Outcome | null {
  if (value.error !== undefined && value.error !== null) {
    return { kind: 'failed', message: errorText(value.error) };
  }
  if (value.status === 'not_executed') return readRequestNote(value.note) ?? { kind: 'not_executed' };
  if (value.status === 'awaiting_approval') {
    return write ? { kind: 'awaiting' } : { kind: 'failed', message: 'awaiting approval' };
  }
  // Only writes are effects; a read reported running or unknown simply told nothing.
  if (value.status === 'running') {
    return write ? { kind: 'running' } : { kind: 'failed', message: 'still running' };
  }
  if (value.status === 'unknown') {
    return write ? { kind: 'unknown' } : { kind: 'failed', message: 'unknown outcome' };
  }
  return null;
}

/** The shop as the context describes it: settled results applied in the order the calls were made. */
function knownShop(records: readonly CallRecord[], replaceAt: number): Known {
  const known: Known = {
    order: null,
    menu: null,
    pending: [],
    uncertain: [],
    awaiting: [],
    lastGetOrderPosition: -1,
    lastListProductsPosition: -1,
    orders: new Map(),
  };
  // `buildRecords` adds records in the order of their first output, so they are in call order.
  for (const record of records) {
    const outcome = record.outcome;
    if (outcome.kind === 'running') known.pending.push(record);
    if (outcome.kind === 'unknown') known.uncertain.push(record);
    if (outcome.kind === 'awaiting') known.awaiting.push(record);
    // A lookup shows the shop at its time: a write made before it that landed after it wins.
    const stale = record.name === 'get_order' && landedAfter(records, record);
    if (outcome.kind === 'order' && !stale) {
      known.order = outcome.order;
      if (replaceAt >= 0) seeOrder(known.orders, outcome.order, record.firstPosition);
    }
    if (outcome.kind === 'no_order' && !stale) known.order = null;
    if (outcome.kind === 'menu') {
      known.menu = outcome.menu;
      known.lastListProductsPosition = Math.max(known.lastListProductsPosition, record.lastPosition);
    }
    if (record.name === 'get_order' && (outcome.kind === 'order' || outcome.kind === 'no_order')) {
      known.lastGetOrderPosition = Math.max(known.lastGetOrderPosition, record.lastPosition);
    }
  }
  // A get_order result after an uncertain write shows what the shop holds, whatever that write did.
  known.uncertain = known.uncertain.filter((record) => record.lastPosition > known.lastGetOrderPosition);
  // After a replacement the order is the new one, whichever result the context shows last.
  const fresh = replaceAt >= 0 ? freshOrder(known.orders, replaceAt) : null;
  if (fresh) known.order = fresh.order;
  return known;
}

function seeOrder(orders: Map<string, SeenOrder>, order: KnownOrder, position: number): void {
  const seen = orders.get(order.orderId);
  orders.set(order.orderId, { order, firstPosition: Math.min(seen?.firstPosition ?? position, position) });
}

/** The open order that first showed up after `position` (the latest such), if any. */
function freshOrder(orders: ReadonlyMap<string, SeenOrder>, position: number): SeenOrder | null {
  let fresh: SeenOrder | null = null;
  for (const seen of orders.values()) {
    if (seen.order.status === 'cancelled' || seen.firstPosition < position) continue;
    if (!fresh || seen.firstPosition > fresh.firstPosition) fresh = seen;
  }
  return fresh;
}

/**
 * Whether a write made before a lookup turned out, later in the context, to have written the
 * order: a write still in flight when the lookup read the shop, which landed afterwards.
 */
function landedAfter(records: readonly CallRecord[], lookup: CallRecord): boolean {
  return records.some(
    (r) =>
      r.firstPosition < lookup.firstPosition &&
      r.lastPosition > lookup.lastPosition &&
      r.outcome.kind === 'order' &&
      WRITE_TOOLS.has(r.name),
  );
}

// ---------------------------------------------------------------------------------------------
// Deciding

/**
 * The clerk's decision, the first rule that applies: check a write of unknown outcome; wait for a
 * running write; create, update or cancel so the shop matches what the customer wants (unless
 * that write awaits approval, or was refused since the customer last wrote because another one
 * does); look up the order for a status question; fetch the menu for a menu question; otherwise
 * reply, with any news of a request for approval first.
 */
function decide(s: Situation): BrainOutput | BrainOutput[] {
  const { known, desired } = s;
  if (known.uncertain.length > 0) {
    return callOr(s, 'get_order', checkArgs(known.uncertain), () => say(s, uncertainText()));
  }
  if (known.pending.length > 0) return say(s, pendingText(s));
  const replacing = s.replaceAt >= 0 ? replacingWrites(s) : [];
  if (replacing.length === 1) return writeOrSay(s, replacing[0]!);
  if (replacing.length > 1) return writeAllOrSay(s, replacing);
  const write = neededWrite(desired, known.order);
  if (write) return writeOrSay(s, write);
  const lastStatus = lastPositionOf(s.users, 'status');
  if (known.order && lastStatus > known.lastGetOrderPosition) {
    return callOr(s, 'get_order', { order_id: known.order.orderId }, () => say(s, answerText(s)));
  }
  if (lastPositionOf(s.users, 'menu') > known.lastListProductsPosition) {
    return callOr(s, 'list_products', {}, () => say(s, answerText(s)));
  }
  return say(s, answerText(s));
}

type Write = { name: string; args: Record<string, unknown> };

/**
 * Makes the write, unless people are in its way: the same write awaits a member of staff's
 * approval (asking again would not help: the customer is told a colleague will confirm it), a
 * write was refused since the customer last wrote because another one awaits approval (and no
 * decision came since), or this write was approved and then failed since the customer last wrote.
 */
function writeOrSay(s: Situation, write: Write): BrainOutput {
  return (
    peopleInTheWay(s, write) ?? callOr(s, write.name, write.args, () => say(s, unavailableText(write.name)))
  );
}

/** Several writes in one answer, as parallel calls; if people are in the way of one, it says so instead. */
function writeAllOrSay(s: Situation, writes: readonly Write[]): BrainOutput | BrainOutput[] {
  for (const write of writes) {
    const blocked = peopleInTheWay(s, write);
    if (blocked) return blocked;
  }
  const outputs = writes.map((write) =>
    callOr(s, write.name, write.args, () => say(s, unavailableText(write.name))),
  );
  return outputs.find((output) => output.type === 'message') ?? outputs;
}

/** What to say instead of making the write when people are in its way (see {@link writeOrSay}), or null. */
function peopleInTheWay(s: Situation, write: Write): BrainOutput | null {
  const waiting = s.known.awaiting.find((r) => sameWrite(r, write));
  if (waiting) {
    const still = waiting.lastPosition < s.lastAssistantPosition;
    return say(s, awaitingText(requestWhat(waiting.name, waiting.args), still) + newOrderNote(s));
  }
  const lastUser = s.users[s.users.length - 1]?.position ?? -1;
  for (const r of s.records) {
    if (r.lastPosition <= lastUser) continue;
    if (r.outcome.kind === 'held' && !decidedAfter(s.records, r.lastPosition)) {
      const awaiting = s.known.awaiting[0];
      return say(s, heldText(requestWhat(awaiting?.name ?? r.outcome.tool, awaiting?.args ?? null)));
    }
    if (r.requested && r.outcome.kind === 'failed' && sameWrite(r, write)) {
      return say(s, failedText(write.name, r.outcome.message));
    }
  }
  return null;
}

/**
 * The writes that replace the customer's order with a new one, after they asked for that in one
 * message: cancel every open order that was there before they asked (unless a person declined
 * that cancellation since), and create the new order, or bring it up to date once it exists.
 * Several writes are made as parallel calls. None when there is nothing left to do, or when the
 * customer no longer wants an order (the usual rules apply then).
 */
function replacingWrites(s: Situation): Write[] {
  const { desired, known, replaceAt } = s;
  if (!desired || desired.cancelled || desired.items.length === 0) return [];
  const writes: Write[] = [];
  for (const seen of known.orders.values()) {
    if (seen.order.status === 'cancelled' || seen.firstPosition >= replaceAt) continue;
    const declined = s.records.some(
      (r) =>
        r.name === 'cancel_order' &&
        r.outcome.kind === 'declined' &&
        r.lastPosition > replaceAt &&
        r.args?.order_id === seen.order.orderId,
    );
    if (!declined) writes.push({ name: 'cancel_order', args: { order_id: seen.order.orderId } });
  }
  const fresh = freshOrder(known.orders, replaceAt);
  if (!fresh) writes.push({ name: 'create_order', args: { items: desired.items } });
  else if (!sameLines(fresh.order.lines, desired.items)) {
    writes.push({ name: 'update_order', args: { order_id: fresh.order.orderId, items: desired.items } });
  }
  return writes;
}

/** After a replacement, the new order when the customer has not been told of it yet, else ''. */
function newOrderNote(s: Situation): string {
  if (s.replaceAt < 0) return '';
  const fresh = freshOrder(s.known.orders, s.replaceAt);
  if (!fresh || fresh.firstPosition < s.lastAssistantPosition) return '';
  return ` Your new order ${fresh.order.orderId} is confirmed: ${linesText(s.catalogue, fresh.order.lines)}.`;
}

/** The answer once a replacement is done, while the request for it is the customer's latest message. */
function replacedText(s: Situation): string | null {
  const latest = s.users[s.users.length - 1];
  if (s.replaceAt < 0 || latest?.position !== s.replaceAt) return null;
  const fresh = freshOrder(s.known.orders, s.replaceAt);
  const old = [...s.known.orders.values()].find(
    (seen) => seen.order.status === 'cancelled' && seen.firstPosition < s.replaceAt,
  );
  if (!fresh || !old) return null;
  const items = linesText(s.catalogue, fresh.order.lines);
  return `Your order ${old.order.orderId} is cancelled, and your new order ${fresh.order.orderId} is confirmed: ${items}. Anything else I can get you?`;
}

/** Whether the context learnt of a decision on a request for approval after `position`. */
function decidedAfter(records: readonly CallRecord[], position: number): boolean {
  return records.some((r) => r.requested && r.outcome.kind !== 'awaiting' && r.lastPosition > position);
}

/** The same tool on the same order (a create names none). */
function sameWrite(record: CallRecord, write: Write): boolean {
  return record.name === write.name && record.args?.order_id === write.args.order_id;
}

/** The write that brings the shop to what the customer wants, if one is needed. */
function neededWrite(desired: DesiredOrder, order: KnownOrder | null): Write | null {
  const active = order !== null && order.status !== 'cancelled' ? order : null;
  if (desired && !desired.cancelled && desired.items.length > 0) {
    if (!active) return { name: 'create_order', args: { items: desired.items } };
    if (!sameLines(active.lines, desired.items)) {
      return { name: 'update_order', args: { order_id: active.orderId, items: desired.items } };
    }
    return null;
  }
  if (desired?.cancelled && active) return { name: 'cancel_order', args: { order_id: active.orderId } };
  return null;
}

/** Which order to look at: the latest one when a create may have happened, else the one the write named. */
function checkArgs(uncertain: readonly CallRecord[]): Record<string, unknown> {
  const last = uncertain[uncertain.length - 1];
  if (!last || last.name === 'create_order' || uncertain.some((r) => r.name === 'create_order')) return {};
  const orderId = last.args?.order_id;
  return typeof orderId === 'string' ? { order_id: orderId } : {};
}

/** Calls the tool if the request offers it and it has not kept failing; otherwise answers in text. */
function callOr(
  s: Situation,
  name: string,
  args: Record<string, unknown>,
  otherwise: () => BrainOutput,
): BrainOutput {
  if (!offersTool(s.tools, name)) return otherwise();
  const lastUser = s.users[s.users.length - 1]?.position ?? -1;
  // The same call failed since the customer last wrote: count those failures. The arguments are
  // canonicalised only when some failure of this tool is in view (most calls have none).
  let argsKey: string | null = null;
  let failures = 0;
  let lastFailure: CallRecord | null = null;
  for (const r of s.records) {
    if (r.name !== name || r.outcome.kind !== 'failed' || r.lastPosition <= lastUser) continue;
    argsKey ??= canonicalJson(args);
    if (r.argsKey !== argsKey) continue;
    failures += 1;
    lastFailure = r;
  }
  if (lastFailure && failures >= s.maxFailedTries) {
    return say(s, failedText(name, lastFailure.outcome.kind === 'failed' ? lastFailure.outcome.message : ''));
  }
  return { type: 'function_call', name, arguments: JSON.stringify(args) };
}

function lastPositionOf(users: readonly UserMessage[], kind: Intent['kind']): number {
  return users.reduce((last, user) => (user.intent.kind === kind ? user.position : last), -1);
}

// ---------------------------------------------------------------------------------------------
// Writing replies (each 10–40 words)

function say(s: Situation, body: string): BrainOutput {
  return { type: 'message', text: colleagueSaid(s) + sorryText(s) + unreadText(s) + body };
}

/** The clerk cannot look at pictures or read files: it says so, and asks for words. */
function unreadText(s: Situation): string {
  const { images, files } = s.unread;
  if (!images && !files) return '';
  const what = images && files ? 'pictures or files' : images ? 'pictures' : 'files';
  return `I'm sorry, I can't look at ${what} here, so please tell me in words. `;
}

/** When the latest assistant message was a member of staff's, the clerk's answer shows it read it. */
function colleagueSaid(s: Situation): string {
  const reply = s.operatorReply;
  if (!reply || reply.position !== s.lastAssistantPosition) return '';
  const who = reply.operator === '' ? 'my colleague' : `my colleague ${reply.operator}`;
  return `As ${who} said: ${quoteSentence(reply.text, 10)} `;
}

function sorryText(s: Situation): string {
  // The first two distinct words the customer asked for since the last reply that are not products.
  const named: string[] = [];
  for (const user of s.users) {
    if (user.position <= s.lastAssistantPosition) continue;
    for (const word of unrecognisedIn(user.text, s.catalogue)) {
      if (named.length < 2 && !named.includes(word)) named.push(word);
    }
  }
  return named.length > 0 ? `Sorry, we don't have ${named.join(' or ')}. ` : '';
}

/** The answer when nothing needs doing, after any news of a request for approval. */
function answerText(s: Situation): string {
  const news = requestNews(s);
  if (news === null) return replyText(s);
  const asked = s.users.some((user) => user.position > s.lastAssistantPosition);
  return `${news} ${asked ? replyText(s) : 'Is there anything else I can help you with?'}`;
}

/**
 * How a request for approval ended, when the customer has not been told since: approved (and
 * done), rejected or expired. A withdrawn request is no news: the customer wrote again, and the
 * clerk acts on what they wrote.
 */
function requestNews(s: Situation): string | null {
  let latest: CallRecord | null = null;
  for (const r of s.records) {
    if (r.lastPosition <= s.lastAssistantPosition || (latest && latest.lastPosition > r.lastPosition))
      continue;
    const { outcome } = r;
    const declined = outcome.kind === 'declined' && outcome.cause !== 'withdrawn';
    if (declined || (r.requested && outcome.kind === 'order')) latest = r;
  }
  if (!latest) return null;
  const { outcome } = latest;
  if (outcome.kind === 'order') {
    return approvedText(latest.name, outcome.order.orderId, linesText(s.catalogue, outcome.order.lines));
  }
  if (outcome.kind !== 'declined' || outcome.cause === 'withdrawn') return null;
  return declinedText(outcome.cause, requestWhat(latest.name, latest.args), outcome.note);
}

/** The answer when nothing needs doing: it follows the customer's latest message. */
function replyText(s: Situation): string {
  const order = s.known.order;
  const latest = s.users[s.users.length - 1]?.intent.kind ?? 'chat';
  const items = order ? linesText(s.catalogue, order.lines) : '';
  if (latest === 'status') {
    return order
      ? `Your order ${order.orderId} is ${order.status}: ${items}. Anything else I can help you with?`
      : "I couldn't find an order for you yet. Just tell me what you'd like, for example two pizzas and a cola.";
  }
  if (latest === 'menu') return `Here is our menu: ${menuText(s)}. What would you like to order?`;
  const replaced = replacedText(s);
  if (replaced) return replaced;
  if (order?.status === 'cancelled' && latest !== 'chat') {
    return `Your order ${order.orderId} has been cancelled. Is there anything else I can help you with today?`;
  }
  if (order && latest !== 'chat') {
    return `Your order ${order.orderId} is confirmed: ${items}. Anything else I can get you?`;
  }
  if (latest === 'cancel') {
    return 'There is no open order to cancel. Is there anything else I can help you with today?';
  }
  if (order && order.status !== 'cancelled') {
    return `Happy to help! Your order ${order.orderId} for ${items} is confirmed. Is there anything else you need?`;
  }
  const names = s.catalogue.slice(0, MAX_LISTED).map((entry) => entry.singular);
  return `Happy to help! We have ${joinWords(names)}. What would you like to order today?`;
}

const unrecognisedMemos = new WeakMap<Catalogue, (text: string) => readonly string[]>();

/** `unrecognisedProducts`, remembered per catalogue and exact text. */
function unrecognisedIn(text: string, catalogue: Catalogue): readonly string[] {
  let memo = unrecognisedMemos.get(catalogue);
  if (!memo) {
    memo = memoByText((t) => unrecognisedProducts(t, catalogue));
    unrecognisedMemos.set(catalogue, memo);
  }
  return memo(text);
}

function pendingText(s: Situation): string {
  const doing = s.known.pending.slice(0, 2).map((record) => {
    const orderId = typeof record.args?.order_id === 'string' ? record.args.order_id : 'your order';
    const items = linesOf(record.args?.items);
    const list = items.length > 0 ? itemsText(s.catalogue, items) : 'your items';
    if (record.name === 'create_order') return `placing an order for ${list}`;
    if (record.name === 'update_order') return `updating ${orderId} to ${list}`;
    return `cancelling ${orderId}`;
  });
  return `Your order is being processed: I'm ${joinWords(doing)} right now. I'll confirm here as soon as it's done.`;
}

function uncertainText(): string {
  return "I'm still confirming whether your last order change went through. I'll let you know as soon as I know more.";
}

const TOOL_PURPOSES: Record<string, string> = {
  create_order: 'place your order',
  update_order: 'update your order',
  cancel_order: 'cancel your order',
  get_order: 'check your order',
  list_products: 'load our menu',
};

function unavailableText(name: string): string {
  const purpose = TOOL_PURPOSES[name] ?? 'do that';
  return `Sorry, I can't ${purpose} right now because our order system is unavailable. Please try again in a little while.`;
}

function failedText(name: string, message: string): string {
  const purpose = TOOL_PURPOSES[name] ?? 'do that';
  const words = message.split(/\s+/).filter((word) => word.length > 0);
  const reason = words.length > 0 ? ` (${words.slice(0, 10).join(' ')}${words.length > 10 ? '…' : ''})` : '';
  return `Sorry, I couldn't ${purpose} just now${reason}. Please try again in a moment.`;
}

function itemsText(catalogue: Catalogue, items: readonly OrderLine[]): string {
  return linesText(catalogue, canonicalLines(items));
}

/** `itemsText` of lines already canonical. */
function linesText(catalogue: Catalogue, lines: readonly OrderLine[]): string {
  if (lines.length === 0) return 'no items';
  return joinWords(lines.slice(0, MAX_LISTED).map((line) => describeLine(catalogue, line)));
}

function menuText(s: Situation): string {
  const menu =
    s.known.menu ?? s.catalogue.map((entry) => ({ product: entry.product, priceCents: entry.priceCents }));
  const entries = menu
    .slice(0, MAX_LISTED)
    .map(
      (entry) =>
        `${findProduct(s.catalogue, entry.product)?.singular ?? entry.product} ${formatPrice(entry.priceCents)}`,
    );
  return entries.length > 0 ? entries.join(', ') : 'nothing right now, sorry';
}

// ---------------------------------------------------------------------------------------------
// Reading untrusted values

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}

/** Arguments parsed, and in canonical form (key order does not matter); remembered: contexts repeat them. */
const readArgs = memoByText((text) => {
  const args = parseArgs(text);
  return { args, argsKey: args ? canonicalJson(args) : text };
});

function parseArgs(text: string): Record<string, unknown> | null {
  const value = parseJson(text);
  return isRecord(value) ? value : null;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : '')).join('');
}

function errorText(error: unknown): string {
  if (typeof error === 'string') return error;
  if (isRecord(error) && typeof error.message === 'string') return error.message;
  return safeJson(error);
}

function linesOf(value: unknown): OrderLine[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((line) =>
    isRecord(line) &&
    typeof line.product === 'string' &&
    typeof line.quantity === 'number' &&
    Number.isFinite(line.quantity)
      ? [{ product: line.product, quantity: line.quantity }]
      : [],
  );
}

function orderOf(value: unknown): KnownOrder | null {
  if (!isRecord(value) || typeof value.order_id !== 'string' || typeof value.status !== 'string') return null;
  if (!Array.isArray(value.items)) return null;
  const items = linesOf(value.items);
  return { orderId: value.order_id, status: value.status, items, lines: canonicalLines(items) };
}

function menuOf(value: unknown): MenuEntry[] | null {
  if (!isRecord(value) || !Array.isArray(value.products)) return null;
  return value.products.flatMap((entry) =>
    isRecord(entry) && typeof entry.product === 'string' && typeof entry.price_cents === 'number'
      ? [{ product: entry.product, priceCents: entry.price_cents }]
      : [],
  );
}

/** Whether the request declares a tool of that name (looked up when needed: most calls ask once at most). */
function offersTool(tools: unknown, name: string): boolean {
  return Array.isArray(tools) && tools.some((tool) => isRecord(tool) && tool.name === name);
}

function sameLines(a: readonly OrderLine[], b: readonly OrderLine[]): boolean {
  return (
    a.length === b.length &&
    a.every((line, i) => line.product === b[i]?.product && line.quantity === b[i]?.quantity)
  );
}
