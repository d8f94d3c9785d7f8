/**
 * The ground truth of the adversarial world: every write tool invocation as the tool itself saw
 * it, kept apart from graft's ledger so that the checker can judge graft against it.
 */

/** How an invocation ended, as the tool knows it (not as its caller recorded it). */
export type InvocationOutcome = 'running' | 'returned' | 'rejected' | 'threw';

export interface ToolInvocation {
  tool: string;
  /** The key the shop stored the write under: graft's idempotency key (with its `#n` generation), else the call id. */
  key: string;
  toolCallId: string;
  /** graft's effect id (null for the baselines). */
  effectId: string | null;
  /** The instance (or bot) that ran it. */
  runner: string;
  /** Index (in the conversation's model calls) of the call whose response asked for it, when known. */
  requestedBy: number | null;
  startAt: number;
  startOp: number;
  endAt: number | null;
  endOp: number | null;
  /**
   * When the shop accepted the write (a write that changed nothing, such as a replayed key,
   * counts: the shop took it). Null when the invocation never wrote: it failed before reaching the
   * shop, or the shop refused it (a fenced key, an unknown order).
   */
  wroteAt: number | null;
  wroteOp: number | null;
  /** Whether the write changed the shop's orders. */
  changed: boolean;
  /** Refused by the shop because `reconcile` had fenced its key: a late run that wrote nothing. */
  fenced: boolean;
  outcome: InvocationOutcome;
}

/** One call of a tool's `reconcile`. */
export interface ReconcileRecord {
  key: string;
  at: number;
  op: number;
  happened: boolean;
  /** An invocation under the key was still running: a stalled or slow owner's write in flight. */
  inFlight: boolean;
}

/**
 * The span in which an invocation could change the shop: from its start to the moment the shop
 * accepted its write. Null for an invocation that never wrote. Once the shop took the write, the
 * tool's remaining time (a slow answer, an error thrown after writing) cannot change anything.
 */
export function writeSpan(invocation: ToolInvocation): { from: number; to: number } | null {
  return invocation.wroteOp === null ? null : { from: invocation.startOp, to: invocation.wroteOp };
}

/** What an invocation amounted to at a moment (a global op): still running, done, or failed (nothing written). */
export function statusAt(invocation: ToolInvocation, op: number): 'running' | 'done' | 'failed' {
  if (invocation.endOp === null || invocation.endOp > op) return 'running';
  return invocation.wroteOp !== null ? 'done' : 'failed';
}
