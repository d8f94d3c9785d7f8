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
  return tokensOfLength(text.length);
}

function tokensOfLength(length: number): number {
  if (length === 0) return 0;
  return Math.max(1, Math.ceil(length / 4));
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
  return requestTokens(request) + itemsTokens(request.input);
}

/**
 * The estimated tokens a call pays whatever its context: the instructions and the tool declarations.
 *
 * @example
 * requestTokens({ instructions: 'Be brief.', tools: [] }); // 3
 */
export function requestTokens(request: {
  instructions: string | null;
  tools: readonly FunctionToolSpec[];
}): number {
  const total = estimateTokens(request.instructions ?? '');
  return request.tools.length > 0 ? total + toolsTokens(request.tools) : total;
}

/**
 * The estimated tokens of context items, overhead included. A context's tokens are the sum over
 * its items, so a chain can add its new items' tokens to its prefix's.
 *
 * @example
 * itemsTokens([{ type: 'message', role: 'user', content: 'hi' }]); // 5
 */
export function itemsTokens(items: readonly InputItem[]): number {
  let total = 0;
  for (const item of items) total += itemTokens(item);
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
  for (const item of output) total += ITEM_OVERHEAD_TOKENS + tokensOfLength(outputItemLength(item));
  return total;
}

// Contexts share their tool lists from call to call; count each list once.
const toolsCache = new WeakMap<readonly FunctionToolSpec[], number>();

// Every call of a run declares the same tool list: remember the last one in front of the WeakMap.
let lastTools: readonly FunctionToolSpec[] | null = null;
let lastToolsTokens = 0;

function toolsTokens(tools: readonly FunctionToolSpec[]): number {
  if (tools === lastTools) return lastToolsTokens;
  let tokens = toolsCache.get(tools);
  if (tokens === undefined) toolsCache.set(tools, (tokens = tokensOfLength(toolsJsonLength(tools))));
  lastTools = tools;
  lastToolsTokens = tokens;
  return tokens;
}

// Lists differ (every simulated conversation has its own) but share their tools' declarations.
const specLengths = new WeakMap<object, number>();

/** `JSON.stringify(tools).length`, from each declaration's length: `[`, the declarations joined by `,`, then `]`. */
function toolsJsonLength(tools: readonly FunctionToolSpec[]): number {
  let length = tools.length === 0 ? 2 : 1 + tools.length;
  for (let i = 0; i < tools.length; i += 1) {
    const spec: unknown = tools[i];
    // Anything but a plain declaration (a hole, a value with toJSON) is measured the slow way.
    if (typeof spec !== 'object' || spec === null || 'toJSON' in spec) return JSON.stringify(tools).length;
    let specLength = specLengths.get(spec);
    if (specLength === undefined) specLengths.set(spec, (specLength = JSON.stringify(spec).length));
    length += specLength;
  }
  return length;
}

// The estimates need only the length of an item's text: it is measured without building the text.

function itemTokens(item: InputItem): number {
  return ITEM_OVERHEAD_TOKENS + tokensOfLength(inputItemLength(item));
}

/** The length of an input item's billed text (what the model reads of it). */
function inputItemLength(item: InputItem): number {
  switch (item.type) {
    case 'message':
      return typeof item.content === 'string' ? item.content.length : partsLength(item.content);
    case 'function_call':
      return pairLength(item.name, item.arguments);
    case 'function_call_output':
      return item.output.length;
    case 'reasoning':
      return partsLength(item.summary);
  }
}

function outputItemLength(item: BrainOutput | OutputItem): number {
  if (item.type === 'message') return 'text' in item ? item.text.length : partsLength(item.content);
  if (item.type === 'function_call') return pairLength(item.name, item.arguments);
  return partsLength(item.summary);
}

/** `parts.map((part) => part.text).join('').length`. */
function partsLength(parts: readonly { text: string }[]): number {
  let length = 0;
  for (let i = 0; i < parts.length; i += 1) {
    if (!(i in parts)) continue;
    const text: unknown = parts[i]!.text;
    // Anything but a string is measured as `join` writes it (a missing text as nothing).
    length += typeof text === 'string' ? text.length : [text].join('').length;
  }
  return length;
}

/** `(a + b).length`. */
function pairLength(a: string, b: string): number {
  return typeof a === 'string' && typeof b === 'string' ? a.length + b.length : (a + b).length;
}
