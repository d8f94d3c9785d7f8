/**
 * What the shop clerk reads about people in the loop: requests that wait for a member of staff's
 * approval, how they ended, and replies a member of staff wrote while they had the conversation.
 * The clerk reads these as a model would, from the words graft puts in the context (the notes of
 * `src/core/context.ts` and `rejectionOutput` in `src/core/state.ts`; the clerk's tests build
 * their inputs with those functions, so a change of wording there fails them).
 */

/** How a request for approval ended without running. */
export type DeclineCause = 'rejected' | 'expired' | 'withdrawn';

/** What a `not_executed` output says about requests for approval, if anything. */
export type RequestNotice =
  /** This call was refused because an earlier `tool` call awaits a decision. */
  | { kind: 'held'; tool: string }
  /** This call was a request that ended without running; `note` is the person's, or ''. */
  | { kind: 'declined'; cause: DeclineCause; note: string };

const HELD = /an earlier (\S+) call awaits a member of staff's approval/;
const THEIR_NOTE = /Their note: ("(?:[^"\\]|\\.)*")/;

/**
 * Reads the `note` of a `not_executed` output.
 *
 * @example
 * readRequestNote('Not executed: no member of staff decided on this request in time.');
 * // { kind: 'declined', cause: 'expired', note: '' }
 */
export function readRequestNote(note: unknown): RequestNotice | null {
  if (typeof note !== 'string') return null;
  const held = HELD.exec(note);
  if (held) return { kind: 'held', tool: held[1] ?? '' };
  if (note.includes('a member of staff rejected this request')) {
    return { kind: 'declined', cause: 'rejected', note: theirNote(note) };
  }
  if (note.includes('no member of staff decided on this request in time')) {
    return { kind: 'declined', cause: 'expired', note: '' };
  }
  if (note.includes('this request was withdrawn')) return { kind: 'declined', cause: 'withdrawn', note: '' };
  return null;
}

/** The person's note quoted in a rejection (JSON-quoted by graft), or ''. */
function theirNote(note: string): string {
  const quoted = THEIR_NOTE.exec(note)?.[1];
  if (quoted === undefined) return '';
  try {
    const text = JSON.parse(quoted) as unknown;
    return typeof text === 'string' ? text.trim() : '';
  } catch {
    return '';
  }
}

const BY_OPERATOR = /written and sent to the customer by a member of staff \((.*)\), not by you/;

/**
 * The member of staff a developer note names as the author of the next assistant message ('' when
 * it names nobody in particular), or null when the note says nothing of the kind.
 *
 * @example
 * operatorOfNote('The next assistant message was written and sent to the customer by a member of staff (ana), not by you. …'); // 'ana'
 */
export function operatorOfNote(text: string): string | null {
  const match = BY_OPERATOR.exec(text);
  if (!match) return null;
  const name = (match[1] ?? '').trim();
  return name === 'a member of staff' ? '' : name;
}

/**
 * A person's words in quotes, at most `max` of them (an ellipsis says some were left out), ending
 * a sentence: a full stop follows unless the quote ends with one.
 *
 * @example
 * quoteSentence('It has shipped', 12); // '"It has shipped".'
 */
export function quoteSentence(text: string, max: number): string {
  const words = text.split(/\s+/).filter((word) => word.length > 0);
  const quoted = words.length > max ? `${words.slice(0, max).join(' ')}…` : words.join(' ');
  return /[.!?…]$/.test(quoted) ? `"${quoted}"` : `"${quoted}".`;
}

// ---------------------------------------------------------------------------------------------
// What the clerk says about requests for approval

/**
 * What a request for approval asks for, in words.
 *
 * @example
 * requestWhat('cancel_order', { order_id: 'ord_1' }); // 'the cancellation of order ord_1'
 */
export function requestWhat(tool: string, args: Readonly<Record<string, unknown>> | null): string {
  const orderId = typeof args?.order_id === 'string' ? `order ${args.order_id}` : 'your order';
  if (tool === 'cancel_order') return `the cancellation of ${orderId}`;
  if (tool === 'update_order') return `the change to ${orderId}`;
  if (tool === 'create_order') return 'your new order';
  return 'your earlier request';
}

/** A request awaits a decision (`still`: the customer was told so before). */
export function awaitingText(what: string, still: boolean): string {
  const needs = still ? 'still needs' : 'needs';
  return `A colleague ${needs} to confirm ${what}; I'll let you know as soon as they have.`;
}

/** A change was refused because the request for `what` awaits a decision. */
export function heldText(what: string): string {
  return `I can make that change once a colleague has decided on ${what}; I'll let you know as soon as they have.`;
}

/** A request was approved and its write done: `items` describes the order. */
export function approvedText(tool: string, orderId: string, items: string): string {
  const done =
    tool === 'cancel_order'
      ? 'is cancelled'
      : `is ${tool === 'create_order' ? 'placed' : 'updated'}: ${items}`;
  return `Good news: a colleague confirmed it, and your order ${orderId} ${done}.`;
}

/** A request was rejected (with the person's note, or '') or expired. */
export function declinedText(cause: 'rejected' | 'expired', what: string, note: string): string {
  if (cause === 'expired') return `Sorry, nobody could confirm ${what} in time, so nothing has changed.`;
  const said = note === '' ? '.' : `: ${quoteSentence(note, 10)}`;
  return `Sorry, a colleague declined ${what}${said} Nothing has changed.`;
}
