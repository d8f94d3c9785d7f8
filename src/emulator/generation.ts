import { createHmac, timingSafeEqual } from 'node:crypto';
import type { BrainOutput } from '../core/brain.js';
import { ITEM_OVERHEAD_TOKENS, estimateTokens } from '../model/tokens.js';
import type { LatencyProfile } from './options.js';
import type { IdSource } from './rng.js';
import type {
  FunctionCallWireItem,
  MessageItem,
  OutputWireItem,
  ReasoningWireItem,
  UnsequencedEvent,
} from './wire.js';

/** Models whose names start like this are reasoning models: a `reasoning` item precedes their output. */
export function isReasoningModel(model: string): boolean {
  return /^o\d/.test(model) || model.startsWith('gpt-5');
}

/** What one generation produces: its output items (final form) and their token counts. */
export interface GeneratedOutput {
  items: OutputWireItem[];
  outputTokens: number;
  reasoningTokens: number;
  /** True when `max_output_tokens` cut the output short. */
  incomplete: boolean;
}

export interface GenerationSettings {
  model: string;
  maxOutputTokens: number | null;
  parallelToolCalls: boolean;
  encryptedReasoning: boolean;
  reasoningTokensPerItem: number;
}

const ENCRYPTION_KEY = 'graft-emulator-reasoning';

/** The opaque `encrypted_content` of a reasoning item, bound to the item's id. */
export function encryptReasoning(id: string): string {
  const mac = createHmac('sha256', ENCRYPTION_KEY).update(id).digest('base64url');
  return `gAAAAA${Buffer.from(JSON.stringify({ id, mac })).toString('base64')}`;
}

/** Whether `encrypted` was produced by this emulator for the reasoning item `id`. */
export function verifyReasoning(id: string, encrypted: string): boolean {
  if (!encrypted.startsWith('gAAAAA')) return false;
  try {
    const decoded = JSON.parse(Buffer.from(encrypted.slice(6), 'base64').toString('utf8')) as {
      id?: unknown;
      mac?: unknown;
    };
    const expected = Buffer.from(createHmac('sha256', ENCRYPTION_KEY).update(id).digest('base64url'));
    const actual = Buffer.from(typeof decoded.mac === 'string' ? decoded.mac : '');
    return decoded.id === id && actual.length === expected.length && timingSafeEqual(actual, expected);
  } catch {
    return false;
  }
}

function itemCost(output: BrainOutput): number {
  return (
    ITEM_OVERHEAD_TOKENS +
    estimateTokens(output.type === 'message' ? output.text : output.name + output.arguments)
  );
}

/** Keeps what fits in `budget` tokens; a message that does not fit is cut, a call that does not fit is dropped. */
function truncate(
  outputs: BrainOutput[],
  budget: number,
): { kept: BrainOutput[]; cut: boolean; cutLast: boolean } {
  const kept: BrainOutput[] = [];
  let left = budget;
  for (const output of outputs) {
    const cost = itemCost(output);
    if (cost <= left) {
      kept.push(output);
      left -= cost;
      continue;
    }
    if (output.type === 'message' && left > ITEM_OVERHEAD_TOKENS) {
      kept.push({ type: 'message', text: output.text.slice(0, (left - ITEM_OVERHEAD_TOKENS) * 4) });
      return { kept, cut: true, cutLast: true };
    }
    return { kept, cut: true, cutLast: false };
  }
  return { kept, cut: false, cutLast: false };
}

function toItem(
  output: BrainOutput,
  ids: IdSource,
  status: 'completed' | 'incomplete',
): MessageItem | FunctionCallWireItem {
  if (output.type === 'message') {
    return {
      id: ids.item('msg'),
      type: 'message',
      role: 'assistant',
      status,
      content: [{ type: 'output_text', text: output.text, annotations: [], logprobs: [] }],
    };
  }
  return {
    id: ids.item('fc'),
    type: 'function_call',
    call_id: ids.callId(),
    name: output.name,
    arguments: output.arguments,
    status,
  };
}

/** Turns a brain's outputs into the response's output items, applying the request's limits. */
export function generateOutput(
  outputs: BrainOutput[],
  settings: GenerationSettings,
  ids: IdSource,
): GeneratedOutput {
  let selected = outputs;
  if (!settings.parallelToolCalls) {
    const firstCall = outputs.findIndex((output) => output.type === 'function_call');
    selected = outputs.filter((output, i) => output.type !== 'function_call' || i === firstCall);
  }
  const reasoning = isReasoningModel(settings.model);
  let reasoningTokens = reasoning ? 32 + settings.reasoningTokensPerItem * selected.length : 0;
  const max = settings.maxOutputTokens ?? Number.POSITIVE_INFINITY;
  reasoningTokens = Math.min(reasoningTokens, max);
  const { kept, cut, cutLast } = truncate(selected, max - reasoningTokens);
  const items: OutputWireItem[] = [];
  if (reasoning) {
    const id = ids.item('rs');
    const item: ReasoningWireItem = { id, type: 'reasoning', summary: [] };
    if (settings.encryptedReasoning) item.encrypted_content = encryptReasoning(id);
    items.push(item);
  }
  kept.forEach((output, i) =>
    items.push(toItem(output, ids, cutLast && i === kept.length - 1 ? 'incomplete' : 'completed')),
  );
  const outputTokens = kept.reduce((sum, output) => sum + itemCost(output), 0);
  return { items, outputTokens, reasoningTokens, incomplete: cut };
}

/** One event of the stream and how long generation takes before it is sent. */
export interface EventStep {
  delayMs: number;
  event: UnsequencedEvent;
  /** True for the first text or argument delta of the response (where a mid-stream fault strikes). */
  firstDelta?: boolean;
}

/** Splits text into token-sized deltas whose concatenation is the text. */
export function splitDeltas(text: string): string[] {
  return text.match(/\s*\S{1,8}|\s+$/g) ?? [];
}

function messageSteps(item: MessageItem, index: number, latency: LatencyProfile): EventStep[] {
  const part = item.content[0];
  const text = part?.type === 'output_text' ? part.text : '';
  const base = { item_id: item.id, output_index: index, content_index: 0 };
  const steps: EventStep[] = [
    {
      delayMs: 0,
      event: {
        type: 'response.output_item.added',
        output_index: index,
        item: { ...item, status: 'in_progress', content: [] },
      },
    },
    {
      delayMs: 0,
      event: {
        type: 'response.content_part.added',
        ...base,
        part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
      },
    },
  ];
  for (const delta of splitDeltas(text)) {
    steps.push({
      delayMs: latency.perTokenMs * estimateTokens(delta),
      event: { type: 'response.output_text.delta', ...base, delta, logprobs: [] },
    });
  }
  steps.push(
    { delayMs: 0, event: { type: 'response.output_text.done', ...base, text, logprobs: [] } },
    {
      delayMs: 0,
      event: {
        type: 'response.content_part.done',
        ...base,
        part: { type: 'output_text', text, annotations: [], logprobs: [] },
      },
    },
    { delayMs: 0, event: { type: 'response.output_item.done', output_index: index, item } },
  );
  return steps;
}

function callSteps(item: FunctionCallWireItem, index: number, latency: LatencyProfile): EventStep[] {
  const base = { item_id: item.id, output_index: index };
  const steps: EventStep[] = [
    {
      delayMs: 0,
      event: {
        type: 'response.output_item.added',
        output_index: index,
        item: { ...item, status: 'in_progress', arguments: '' },
      },
    },
  ];
  for (const delta of splitDeltas(item.arguments)) {
    steps.push({
      delayMs: latency.perTokenMs * estimateTokens(delta),
      event: { type: 'response.function_call_arguments.delta', ...base, delta },
    });
  }
  steps.push(
    {
      delayMs: 0,
      event: {
        type: 'response.function_call_arguments.done',
        ...base,
        name: item.name,
        arguments: item.arguments,
      },
    },
    { delayMs: 0, event: { type: 'response.output_item.done', output_index: index, item } },
  );
  return steps;
}

function reasoningSteps(item: ReasoningWireItem, index: number, thinkingMs: number): EventStep[] {
  const { encrypted_content: _hidden, ...added } = item;
  return [
    { delayMs: 0, event: { type: 'response.output_item.added', output_index: index, item: added } },
    { delayMs: thinkingMs, event: { type: 'response.output_item.done', output_index: index, item } },
  ];
}

/**
 * The output events of a generation, in the order the API sends them, each with the generation
 * time before it: time to first token (plus any stall) before the first, reasoning time inside a
 * reasoning item, and the per-token delay before every delta.
 */
export function outputSteps(output: GeneratedOutput, latency: LatencyProfile, stallMs: number): EventStep[] {
  const steps: EventStep[] = [];
  output.items.forEach((item, index) => {
    if (item.type === 'reasoning')
      steps.push(...reasoningSteps(item, index, latency.perTokenMs * output.reasoningTokens));
    else if (item.type === 'message') steps.push(...messageSteps(item, index, latency));
    else steps.push(...callSteps(item, index, latency));
  });
  const first = steps[0];
  if (first) first.delayMs += latency.ttftMs + stallMs;
  const delta = steps.find((step) => step.event.type.endsWith('.delta'));
  if (delta) delta.firstDelta = true;
  return steps;
}
