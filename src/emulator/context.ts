import { invalidRequest, previousResponseNotFound } from './api-error.js';
import { decodeCompaction } from './compaction.js';
import { verifyReasoning } from './generation.js';
import type { Assumptions } from './options.js';
import type { IdSource } from './rng.js';
import type { ResponseStore, StoredResponse } from './store.js';
import type { ItemDraft } from './validate-items.js';
import type { CompactionWireItem, WireItem } from './wire.js';

/** The context of a new response: its parent, its own input items (with ids) and the whole chain. */
export interface ResolvedContext {
  parent: StoredResponse | null;
  inputItems: WireItem[];
  context: WireItem[];
}

/** The parent named by `previous_response_id`, if it may be continued (see `Assumptions`). */
async function usableParent(
  id: string,
  lookup: (id: string) => StoredResponse | undefined,
  assumptions: Assumptions,
): Promise<StoredResponse> {
  let parent = lookup(id);
  if (!parent) throw previousResponseNotFound(id);
  const status = parent.response.status;
  if (status === 'queued' || status === 'in_progress') {
    if (assumptions.chainFromInProgress === 'reject' || !parent.run) {
      throw invalidRequest(
        `Previous response with id '${id}' is still in progress.`,
        'previous_response_id',
        'previous_response_in_progress',
      );
    }
    await parent.run.finished;
    parent = lookup(id);
    if (!parent) throw previousResponseNotFound(id);
  }
  const final = parent.response.status;
  const policy =
    final === 'cancelled'
      ? assumptions.chainFromCancelled
      : final === 'failed'
        ? assumptions.chainFromFailed
        : final === 'incomplete'
          ? assumptions.chainFromIncomplete
          : 'allow';
  if (policy === 'reject') {
    throw invalidRequest(
      `Previous response with id '${id}' has status '${final}' and cannot be continued.`,
      'previous_response_id',
      'invalid_value',
    );
  }
  return parent;
}

const ITEM_PREFIXES = {
  message: 'msg',
  function_call: 'fc',
  function_call_output: 'fco',
  reasoning: 'rs',
  compaction: 'cmp',
} as const;

function withId(draft: ItemDraft, ids: IdSource): WireItem {
  if (draft.id !== null) return draft as WireItem;
  const prefix = ITEM_PREFIXES[draft.type];
  return { ...draft, id: ids.item(prefix) };
}

/**
 * A replayed reasoning item must carry the `encrypted_content` the API gave out, or name an item
 * the API stored; the API answers these messages otherwise.
 */
function checkReasoning(item: WireItem, store: ResponseStore): void {
  if (item.type === 'compaction') return checkCompaction(item);
  if (item.type !== 'reasoning') return;
  if (item.encrypted_content) {
    if (!verifyReasoning(item.id, item.encrypted_content)) {
      throw invalidRequest(
        `The encrypted content for item ${item.id} could not be verified.`,
        'input',
        'invalid_encrypted_content',
      );
    }
    return;
  }
  if (!store.hasOutputItem(item.id)) {
    throw invalidRequest(
      `Item with id '${item.id}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
      'input',
    );
  }
}

/** A replayed compaction item must carry content this emulator issued. */
function checkCompaction(item: CompactionWireItem): void {
  if (decodeCompaction(item.encrypted_content) === null) {
    throw invalidRequest(
      `The encrypted content for item ${item.id} could not be verified.`,
      'input',
      'invalid_encrypted_content',
    );
  }
}

/**
 * Function calls and their outputs must pair up across the whole context: every output answers
 * an earlier call, and every call is answered before the model is asked again.
 */
export function checkPairing(context: readonly WireItem[]): void {
  const calls = new Set<string>();
  const answered = new Set<string>();
  const ids = new Set<string>();
  for (const item of context) {
    if (ids.has(item.id)) {
      throw invalidRequest(
        `Duplicate item found with id ${item.id}. Remove duplicate items from your input and try again.`,
        'input',
      );
    }
    ids.add(item.id);
    if (item.type === 'function_call') calls.add(item.call_id);
    if (item.type !== 'function_call_output') continue;
    if (!calls.has(item.call_id)) {
      throw invalidRequest(
        `No tool call found for function call output with call_id ${item.call_id}.`,
        'input',
      );
    }
    answered.add(item.call_id);
  }
  for (const callId of calls) {
    if (!answered.has(callId))
      throw invalidRequest(`No tool output found for function call ${callId}.`, 'input');
  }
}

/** Resolves `previous_response_id` into the full context and checks what the API checks. */
export async function resolveContext(
  input: readonly ItemDraft[],
  previousResponseId: string | null,
  deps: {
    store: ResponseStore;
    ids: IdSource;
    assumptions: Assumptions;
    /** Finds a parent by id; the store by default (a WebSocket session also knows its unstored ones). */
    lookup?: (id: string) => StoredResponse | undefined;
  },
): Promise<ResolvedContext> {
  const lookup = deps.lookup ?? ((id: string) => deps.store.get(id));
  const parent =
    previousResponseId === null ? null : await usableParent(previousResponseId, lookup, deps.assumptions);
  const inputItems = input.map((draft) => withId(draft, deps.ids));
  for (const item of inputItems) checkReasoning(item, deps.store);
  const chain = parent ? [...parent.context, ...parent.response.output] : [];
  const context = [...chain, ...inputItems];
  checkPairing(context);
  return { parent, inputItems, context };
}
