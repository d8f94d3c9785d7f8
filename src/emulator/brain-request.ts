import type { BrainRequest } from '../core/brain.js';
import type { FunctionToolSpec, InputItem } from '../core/items.js';
import { contextTokens } from '../model/tokens.js';
import type { StoredResponse } from './store.js';
import type { FunctionToolWire, WireItem } from './wire.js';

/** A stored item as the brain reads it (the core's item shapes). */
export function toCoreItem(item: WireItem): InputItem {
  switch (item.type) {
    case 'message':
      return {
        type: 'message',
        role: item.role,
        content: item.content.map((part) =>
          part.type === 'input_text'
            ? { type: 'input_text', text: part.text }
            : { type: 'output_text', text: part.type === 'refusal' ? part.refusal : part.text },
        ),
      };
    case 'function_call':
      return {
        type: 'function_call',
        id: item.id,
        call_id: item.call_id,
        name: item.name,
        arguments: item.arguments,
        status: item.status,
      };
    case 'function_call_output':
      return { type: 'function_call_output', call_id: item.call_id, output: item.output };
    case 'reasoning':
      return {
        type: 'reasoning',
        id: item.id,
        summary: item.summary,
        encrypted_content: item.encrypted_content ?? null,
      };
  }
}

export function toToolSpec(tool: FunctionToolWire): FunctionToolSpec {
  return {
    type: 'function',
    name: tool.name,
    description: tool.description ?? '',
    parameters: tool.parameters ?? {},
    strict: tool.strict,
  };
}

export function brainRequest(
  model: string,
  instructions: string | null,
  context: readonly WireItem[],
  tools: readonly FunctionToolWire[],
): BrainRequest {
  return { model, instructions, input: context.map(toCoreItem), tools: tools.map(toToolSpec) };
}

/**
 * Input tokens as the API bills them (the whole context of the chain) and the cached part: the
 * prompt cache is modelled as a hit on the prefix the parent already processed, which holds only
 * when the prefix (instructions, then tools) is the same as the parent's.
 */
export function inputUsage(
  request: BrainRequest,
  parent: StoredResponse | null,
  tools: readonly FunctionToolWire[],
): { inputTokens: number; cachedTokens: number } {
  const inputTokens = contextTokens(request);
  const parentUsage = parent?.response.usage;
  if (!parent || !parentUsage) return { inputTokens, cachedTokens: 0 };
  const samePrefix =
    parent.response.instructions === request.instructions &&
    JSON.stringify(parent.response.tools) === JSON.stringify(tools);
  return { inputTokens, cachedTokens: samePrefix ? Math.min(parentUsage.input_tokens, inputTokens) : 0 };
}
