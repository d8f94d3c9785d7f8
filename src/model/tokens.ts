import type { BrainOutput } from '../core/brain.js';
import type { FunctionToolSpec, InputItem, OutputItem } from '../core/items.js';

/**
 * Token estimates for the simulator and the emulator, which have no tokenizer.
 *
 * The estimate is the common rule of thumb for English text with OpenAI's tokenizers: one token
 * per four characters, rounded up (and at least one for any non-empty text). Every item of a
 * context or an output also costs {@link ITEM_OVERHEAD_TOKENS} tokens for its role and framing,
 * as the API's chat format does. The numbers are not what the API would bill to the token, but
 * they move the same way (a longer context costs more), which is what comparing strategies needs.
 */

/** The tokens an item costs beyond its text: role, type and delimiters. */
export const ITEM_OVERHEAD_TOKENS = 4;

/**
 * The estimated tokens of a text: ceil(chars / 4), at least 1 when non-empty, 0 when empty.
 *
 * @example
 * estimateTokens('I would like two pizzas'); // 6
 */
export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  return Math.max(1, Math.ceil(text.length / 4));
}

/**
 * The estimated input tokens of a model call, as the API bills them: the instructions, the tool
 * declarations (as JSON) and every item of the full context, chain included.
 *
 * @example
 * contextTokens({ instructions: 'Be brief.', input: [{ type: 'message', role: 'user', content: 'hi' }], tools: [] }); // 3 + 5
 */
export function contextTokens(request: {
  instructions: string | null;
  input: readonly InputItem[];
  tools: readonly FunctionToolSpec[];
}): number {
  let total = estimateTokens(request.instructions ?? '');
  if (request.tools.length > 0) total += toolsTokens(request.tools);
  for (const item of request.input) total += itemTokens(item);
  return total;
}

/**
 * The estimated output tokens of a model call: every output item's text plus its overhead.
 * Accepts a brain's outputs or a response's output items.
 *
 * @example
 * outputTokens([{ type: 'message', text: 'Your order is confirmed.' }]); // 4 + 6
 */
export function outputTokens(output: readonly BrainOutput[] | readonly OutputItem[]): number {
  let total = 0;
  for (const item of output) total += ITEM_OVERHEAD_TOKENS + estimateTokens(outputItemText(item));
  return total;
}

// Contexts share their items and tool lists from call to call; count each object once.
const toolsCache = new WeakMap<readonly FunctionToolSpec[], number>();
const itemCache = new WeakMap<InputItem, number>();

function toolsTokens(tools: readonly FunctionToolSpec[]): number {
  let tokens = toolsCache.get(tools);
  if (tokens === undefined) toolsCache.set(tools, (tokens = estimateTokens(JSON.stringify(tools))));
  return tokens;
}

function itemTokens(item: InputItem): number {
  let tokens = itemCache.get(item);
  if (tokens === undefined) itemCache.set(item, (tokens = ITEM_OVERHEAD_TOKENS + estimateTokens(inputItemText(item))));
  return tokens;
}

/** The billed text of an input item: what the model reads of it. */
function inputItemText(item: InputItem): string {
  switch (item.type) {
    case 'message':
      return typeof item.content === 'string' ? item.content : item.content.map((part) => part.text).join('');
    case 'function_call':
      return item.name + item.arguments;
    case 'function_call_output':
      return item.output;
    case 'reasoning':
      return item.summary.map((part) => part.text).join('');
  }
}

function outputItemText(item: BrainOutput | OutputItem): string {
  if (item.type === 'message') {
    return 'text' in item ? item.text : item.content.map((part) => part.text).join('');
  }
  if (item.type === 'function_call') return item.name + item.arguments;
  return item.summary.map((part) => part.text).join('');
}
