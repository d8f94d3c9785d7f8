import type { CallOrigin } from './commands.js';
import type { CoreConfig } from './config.js';
import { transcript } from './context.js';
import type { CallId } from './ids.js';
import type { ModelRequest } from './model-port.js';
import type { AttemptState, ConversationState, ModelCallState } from './state.js';
import { getCall } from './state.js';

/**
 * The request of a model call. Chain mode sends the call's entries after `previous_response_id`;
 * stateless mode (or a call whose lineage holds an unstored response) sends the whole transcript.
 * Instructions and tools go on every call: the API does not carry them over.
 */
export function buildRequest(
  state: ConversationState,
  config: CoreConfig,
  call: ModelCallState,
): ModelRequest {
  const parent = call.parent === null ? null : getCall(state, call.parent);
  const own = call.entries.map((e) => e.item);
  const base = {
    model: config.model,
    instructions: config.instructions,
    tools: config.tools,
    callId: call.callId,
  };
  if (!call.stateless) {
    return { ...base, input: own, previousResponseId: parent?.responseId ?? null, store: true, include: [] };
  }
  return {
    ...base,
    input: [...transcript(state, call.parent, config.reasoning), ...own],
    previousResponseId: null,
    store: false,
    include: config.reasoning ? ['reasoning.encrypted_content'] : [],
  };
}

/** Who asked for a tool call (for its idempotency key and its run). */
export function callOrigin(
  state: ConversationState,
  attempt: AttemptState,
  callId: CallId,
  toolCallId: string,
): CallOrigin {
  const messageIds = state.messages
    .filter(
      (m) => m.seq < attempt.startedSeq && (m.coveredBy === null || m.coveredBy === replyOf(state, attempt)),
    )
    .map((m) => m.messageId);
  return { attemptId: attempt.attemptId, callId, toolCallId, turn: attempt.turn, messageIds };
}

function replyOf(state: ConversationState, attempt: AttemptState) {
  return state.replies.find((r) => r.attemptId === attempt.attemptId)?.replyId ?? null;
}
