import type { BrainAttachment, BrainRequest } from '../core/brain.js';
import type { FunctionToolSpec, InputContentPart, InputItem } from '../core/items.js';
import { ITEM_OVERHEAD_TOKENS, itemsTokens, requestTokens } from '../model/tokens.js';
import { compactionTokens, decodeCompaction, type CompactedContext } from './compaction.js';
import type { StoredResponse } from './store.js';
import type { FunctionToolWire, InputPart, MessageItem, WireItem } from './wire.js';

/** What the brain reads of a context: core items (text only), and where the pictures and files are. */
export interface BrainView {
  input: InputItem[];
  attachments: BrainAttachment[];
}

function attachmentOf(part: InputPart, index: number): BrainAttachment | null {
  if (part.type === 'input_image') return { index, kind: 'image', filename: null };
  if (part.type === 'input_file') return { index, kind: 'file', filename: part.filename ?? null };
  return null;
}

function textParts(content: MessageItem['content']): InputContentPart[] {
  const parts: InputContentPart[] = [];
  for (const part of content) {
    if (part.type === 'input_text') parts.push({ type: 'input_text', text: part.text });
    else if (part.type === 'output_text') parts.push({ type: 'output_text', text: part.text });
    else if (part.type === 'refusal') parts.push({ type: 'output_text', text: part.refusal });
  }
  return parts;
}

/** The text of a function call's output: the string, or its text parts joined. */
export function outputText(output: string | InputPart[]): string {
  if (typeof output === 'string') return output;
  return output.map((part) => (part.type === 'input_text' ? part.text : '')).join('');
}

/** A stored item as the brain reads it (the core's item shapes); null for a compaction item. */
export function toCoreItem(item: WireItem): InputItem | null {
  switch (item.type) {
    case 'message':
      return { type: 'message', role: item.role, content: textParts(item.content) };
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
      return { type: 'function_call_output', call_id: item.call_id, output: outputText(item.output) };
    case 'reasoning':
      return {
        type: 'reasoning',
        id: item.id,
        summary: item.summary,
        encrypted_content: item.encrypted_content ?? null,
      };
    case 'compaction':
      return null;
  }
}

function mediaOf(item: WireItem): InputPart[] {
  if (item.type === 'message')
    return item.content.filter(
      (part): part is InputPart => part.type !== 'output_text' && part.type !== 'refusal',
    );
  if (item.type === 'function_call_output' && typeof item.output !== 'string') return item.output;
  return [];
}

function userText(item: InputItem): string | null {
  if (item.type !== 'message' || item.role !== 'user') return null;
  if (typeof item.content === 'string') return item.content;
  return item.content.map((part) => part.text).join('');
}

/**
 * Replaces a compaction item with the context it stands for. The messages a compaction kept
 * (they precede its item, as `/compact` returns them) are already in that context: they are
 * taken out of the view once each, so that the brain reads every message exactly once.
 */
function expandCompaction(view: BrainView, boundary: number, compacted: CompactedContext): void {
  const kept = new Map<string, number>();
  for (const item of compacted.items) {
    const text = userText(item);
    if (text !== null) kept.set(text, (kept.get(text) ?? 0) + 1);
  }
  const removed = new Set<number>();
  for (let i = view.input.length - 1; i >= boundary; i -= 1) {
    const text = userText(view.input[i]!);
    const left = text === null ? 0 : (kept.get(text) ?? 0);
    if (left > 0) {
      kept.set(text!, left - 1);
      removed.add(i);
    }
  }
  const shift: number[] = [];
  const input: InputItem[] = [];
  view.input.forEach((item, i) => {
    shift[i] = input.length;
    if (!removed.has(i)) input.push(item);
  });
  const attachments = view.attachments
    .filter((a) => !removed.has(a.index))
    .map((a) => ({ ...a, index: shift[a.index]! }));
  const offset = input.length;
  input.push(...compacted.items);
  attachments.push(...compacted.attachments.map((a) => ({ ...a, index: a.index + offset })));
  view.input = input;
  view.attachments = attachments;
}

/**
 * The brain's view of a context: every item in the core's shapes, compaction items replaced by
 * what they stand for (a compaction item that cannot be decoded was refused before this).
 */
export function brainView(context: readonly WireItem[]): BrainView {
  const view: BrainView = { input: [], attachments: [] };
  let boundary = 0;
  for (const item of context) {
    if (item.type === 'compaction') {
      const compacted = decodeCompaction(item.encrypted_content);
      if (compacted) expandCompaction(view, boundary, compacted);
      boundary = view.input.length;
      continue;
    }
    const index = view.input.length;
    view.input.push(toCoreItem(item)!);
    for (const part of mediaOf(item)) {
      const attachment = attachmentOf(part, index);
      if (attachment) view.attachments.push(attachment);
    }
  }
  return view;
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
  const view = brainView(context);
  return {
    model,
    instructions,
    input: view.input,
    tools: tools.map(toToolSpec),
    ...(view.attachments.length > 0 ? { attachments: view.attachments } : {}),
  };
}

/**
 * Tokens of a picture: OpenAI bills a low-detail image 85 tokens, and a high-detail one 85 plus
 * 170 per 512-pixel tile; the emulator does not decode images and bills every other detail as a
 * 1024×1024 picture (four tiles).
 */
const IMAGE_TOKENS = { low: 85, other: 765 };
/** A file the emulator cannot read (an id or a URL) is billed as a short document. */
const UNREAD_FILE_TOKENS = 500;

function mediaTokens(part: InputPart): number {
  if (part.type === 'input_image') return part.detail === 'low' ? IMAGE_TOKENS.low : IMAGE_TOKENS.other;
  if (part.type !== 'input_file') return 0;
  if (part.file_data === undefined) return UNREAD_FILE_TOKENS;
  // Base64 carries three bytes in four characters; a token is about four bytes of text.
  return Math.max(1, Math.ceil((part.file_data.length * 3) / 16));
}

/** The estimated tokens of one context item, as billed: pictures, files and compactions included. */
export function wireItemTokens(item: WireItem): number {
  if (item.type === 'compaction') {
    const compacted = decodeCompaction(item.encrypted_content);
    return ITEM_OVERHEAD_TOKENS + (compacted ? compactionTokens(compacted) : 0);
  }
  let tokens = itemsTokens([toCoreItem(item)!]);
  for (const part of mediaOf(item)) tokens += mediaTokens(part);
  return tokens;
}

/** The estimated input tokens of a call: instructions, tool declarations and the whole context. */
export function contextInputTokens(request: BrainRequest, context: readonly WireItem[]): number {
  let tokens = requestTokens(request);
  for (const item of context) tokens += wireItemTokens(item);
  return tokens;
}

/**
 * Input tokens as the API bills them (the whole context of the chain) and the cached part: the
 * prompt cache is modelled as a hit on the prefix the parent already processed, which holds only
 * when the prefix (instructions, then tools) is the same as the parent's.
 */
export function inputUsage(
  inputTokens: number,
  request: BrainRequest,
  parent: StoredResponse | null,
  tools: readonly FunctionToolWire[],
): { inputTokens: number; cachedTokens: number } {
  if (!parent || parent.response.usage.input_tokens === 0) return { inputTokens, cachedTokens: 0 };
  const samePrefix =
    parent.response.instructions === request.instructions &&
    JSON.stringify(parent.response.tools) === JSON.stringify(tools);
  return {
    inputTokens,
    cachedTokens: samePrefix ? Math.min(parent.response.usage.input_tokens, inputTokens) : 0,
  };
}
