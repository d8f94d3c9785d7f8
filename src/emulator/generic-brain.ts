import type { Brain, BrainOutput, BrainRequest } from '../core/brain.js';
import type { FunctionToolSpec, InputItem } from '../core/items.js';
import { argumentsFor } from './tool-args.js';

/**
 * A generic, deterministic brain for tools another brain does not know: it calls the tools the
 * customer's latest message names (every such tool, in parallel), with arguments made from each
 * tool's JSON schema, and once their outputs are in, it reports them. So the emulator answers
 * sensibly with anybody's tools, not only the demo shop's.
 */

/** Words of tool names that say nothing about what the tool is for. */
const VAGUE = new Set(
  'get set put post fetch list make create update delete remove run call find lookup read write the and for with from into tool tools api data info item items new all by of to'.split(
    ' ',
  ),
);

function words(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
}

/** The words that name what a tool is about: `get_weather` → `weather`. */
function topicWords(tool: FunctionToolSpec): string[] {
  return words(tool.name).filter((word) => word.length >= 3 && !VAGUE.has(word));
}

/** Whether the text names the tool's topic ("weather", or "forecasts" for `get_forecast`). */
function names(text: string, tool: FunctionToolSpec): boolean {
  const said = new Set(words(text));
  return topicWords(tool).some(
    (topic) =>
      said.has(topic) || said.has(`${topic}s`) || (topic.endsWith('s') && said.has(topic.slice(0, -1))),
  );
}

function messageText(item: InputItem): string {
  if (item.type !== 'message') return '';
  return typeof item.content === 'string' ? item.content : item.content.map((part) => part.text).join('');
}

/** The customer's latest message and where it is in the context. */
export function latestUserMessage(input: readonly InputItem[]): { position: number; text: string } {
  for (let i = input.length - 1; i >= 0; i -= 1) {
    const item = input[i]!;
    if (item.type === 'message' && item.role === 'user') return { position: i, text: messageText(item) };
  }
  return { position: -1, text: '' };
}

/** A call of `tool` with arguments valid against its parameters. */
export function callOf(tool: FunctionToolSpec, text: string): BrainOutput {
  return {
    type: 'function_call',
    name: tool.name,
    arguments: JSON.stringify(argumentsFor(tool.parameters, { text })),
  };
}

/** The tool a message asks for most plainly: the one whose topic it names, else the first. */
export function likeliestTool(tools: readonly FunctionToolSpec[], text: string): FunctionToolSpec | null {
  return tools.find((tool) => names(text, tool)) ?? tools[0] ?? null;
}

function shortOutput(output: string): string {
  const flat = output.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

/**
 * What the generic brain does about `tools` (those the other brain does not know): call the ones
 * the latest message names and that were not called since; report them once all are answered;
 * or nothing (null), leaving the turn to the other brain.
 */
export function genericTurn(request: BrainRequest, tools: readonly FunctionToolSpec[]): BrainOutput[] | null {
  const { position, text } = latestUserMessage(request.input);
  const wanted = tools.filter((tool) => names(text, tool));
  if (wanted.length === 0) return null;
  const calls = new Map<string, string>();
  const outputs = new Map<string, string>();
  for (const item of request.input.slice(position + 1)) {
    if (item.type === 'function_call') calls.set(item.call_id, item.name);
    if (item.type === 'function_call_output' && calls.has(item.call_id))
      outputs.set(calls.get(item.call_id)!, item.output);
  }
  const called = new Set(calls.values());
  const missing = wanted.filter((tool) => !called.has(tool.name));
  if (missing.length > 0) return missing.map((tool) => callOf(tool, text));
  if (wanted.some((tool) => !outputs.has(tool.name))) return null;
  const results = wanted.map((tool) => `${tool.name} returned ${shortOutput(outputs.get(tool.name)!)}`);
  return [{ type: 'message', text: `Here is what I found: ${results.join('; ')}.` }];
}

/**
 * `brain` for the tools it knows (`known`), the generic brain for any other tool a request
 * declares: a request whose latest message names an unknown tool is answered by the generic
 * brain; every other request by `brain`.
 *
 * @example
 * const brain = withGenericTools(createShopClerk(), CLERK_TOOLS);
 */
export function withGenericTools(brain: Brain, known: readonly string[]): Brain {
  const knownNames = new Set(known);
  return (request) => {
    const unknown = request.tools.filter((tool) => !knownNames.has(tool.name));
    return (unknown.length > 0 ? genericTurn(request, unknown) : null) ?? brain(request);
  };
}
