import type { EffectStatus, GraftEvent } from '../core/events.js';

/** One status of an effect, from the time it took it. */
export interface EffectStatusChange {
  status: EffectStatus;
  at: number;
}

/**
 * The times the folded state drops, read from the log: each effect's status over time, when each
 * tool call was answered, and when each attempt ended. The dashboard draws them on a time axis.
 */
export interface LogTimes {
  effects: Map<string, EffectStatusChange[]>;
  /** By `<callId> <toolCallId>`. */
  toolCalls: Map<string, number>;
  attemptsEnded: Map<string, number>;
}

export const toolCallKey = (callId: string, toolCallId: string): string => `${callId} ${toolCallId}`;

/** Reads the times of `LogTimes` from a conversation's whole log, in one pass. */
export function logTimes(events: readonly GraftEvent[]): LogTimes {
  const times: LogTimes = { effects: new Map(), toolCalls: new Map(), attemptsEnded: new Map() };
  let live: string | null = null;
  const change = (effectId: string, status: EffectStatus, at: number) => {
    const history = times.effects.get(effectId);
    if (!history) times.effects.set(effectId, [{ status, at }]);
    // An unknown outcome may be recorded again (another reconciler): a status is listed once a run.
    else if (history.at(-1)?.status !== status) history.push({ status, at });
  };
  for (const event of events) {
    switch (event.type) {
      case 'attempt.started':
        live = event.attemptId;
        break;
      case 'attempt.superseded':
      case 'attempt.failed':
        times.attemptsEnded.set(event.attemptId, event.at);
        if (live === event.attemptId) live = null;
        break;
      case 'conversation.taken-over':
        if (live !== null) times.attemptsEnded.set(live, event.at);
        live = null;
        break;
      case 'reply.committed':
        if (event.attemptId !== null) times.attemptsEnded.set(event.attemptId, event.at);
        if (live === event.attemptId) live = null;
        break;
      case 'effect.started':
        for (const spec of event.effects) {
          change(spec.effectId, spec.approval ? 'awaiting' : 'running', event.at);
          times.toolCalls.set(toolCallKey(event.callId, spec.toolCallId), event.at);
        }
        break;
      case 'effect.approved':
        change(event.effectId, 'running', event.at);
        break;
      case 'effect.rejected':
        change(event.effectId, 'failed', event.at);
        break;
      case 'effect.unknown':
        change(event.effectId, 'unknown', event.at);
        break;
      case 'effect.settled':
        change(event.effectId, event.outcome, event.at);
        break;
      case 'tool.refused':
        for (const refusal of event.refusals)
          times.toolCalls.set(toolCallKey(event.callId, refusal.toolCallId), event.at);
        break;
      case 'tool.read':
        times.toolCalls.set(toolCallKey(event.callId, event.toolCallId), event.at);
        break;
      default:
        break;
    }
  }
  return times;
}
