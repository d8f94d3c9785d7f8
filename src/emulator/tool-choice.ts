import type { Brain, BrainOutput, BrainRequest } from '../core/brain.js';
import type { FunctionToolSpec } from '../core/items.js';
import { callOf, latestUserMessage, likeliestTool } from './generic-brain.js';
import type { ToolChoiceWire } from './wire.js';

/**
 * `tool_choice`, honoured whatever the brain: the brain sees only the tools it may call, and an
 * answer that breaks the choice is mended — a call it may not make is dropped, and when a call
 * is required and the brain made none, the generic brain makes one (of the named function, or
 * of the allowed tool the customer's message names, else the first).
 */

/** What the choice asks of the answer. */
type Demand = { kind: 'none' } | { kind: 'auto' } | { kind: 'required' } | { kind: 'function'; name: string };

function demandOf(choice: ToolChoiceWire): Demand {
  if (choice === 'none' || choice === 'auto' || choice === 'required') return { kind: choice };
  if (choice.type === 'function') return { kind: 'function', name: choice.name };
  return { kind: choice.mode };
}

/** The tools the brain may call under the choice. */
function allowedTools(tools: readonly FunctionToolSpec[], choice: ToolChoiceWire): FunctionToolSpec[] {
  if (choice === 'none') return [];
  if (typeof choice === 'string' || choice.type === 'function') return [...tools];
  const names = new Set(choice.tools.map((tool) => tool.name));
  return tools.filter((tool) => names.has(tool.name));
}

const NO_TOOLS_TEXT = "I can't use any tools for this request.";

function forcedCall(
  tools: readonly FunctionToolSpec[],
  request: BrainRequest,
  name: string | null,
): BrainOutput[] {
  const { text } = latestUserMessage(request.input);
  const tool = name === null ? likeliestTool(tools, text) : tools.find((t) => t.name === name);
  return tool ? [callOf(tool, text)] : [];
}

/**
 * The brain's answer to `request` under `choice`.
 *
 * @example
 * decideWithToolChoice(brain, request, { type: 'function', name: 'get_weather' }); // [{ type: 'function_call', name: 'get_weather', … }]
 */
export function decideWithToolChoice(
  brain: Brain,
  request: BrainRequest,
  choice: ToolChoiceWire,
): BrainOutput[] {
  const tools = allowedTools(request.tools, choice);
  const allowed = new Set(tools.map((tool) => tool.name));
  const restricted = choice !== 'auto';
  const demand = demandOf(choice);
  const outputs = brain(tools.length === request.tools.length ? request : { ...request, tools });
  const kept = outputs.filter(
    (output) =>
      output.type !== 'function_call' ||
      (demand.kind !== 'none' &&
        (!restricted || allowed.has(output.name)) &&
        (demand.kind !== 'function' || output.name === demand.name)),
  );
  if (demand.kind === 'required' || demand.kind === 'function') {
    if (kept.some((output) => output.type === 'function_call')) return kept;
    return forcedCall(tools, request, demand.kind === 'function' ? demand.name : null);
  }
  // A brain whose whole answer was calls it may not make says so instead.
  return kept.length > 0 || outputs.length === 0 ? kept : [{ type: 'message', text: NO_TOOLS_TEXT }];
}
