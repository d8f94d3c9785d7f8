import {
  invalidRequest,
  invalidType,
  invalidValue,
  missingParameter,
  unsupportedParameter,
} from './api-error.js';
import type { Assumptions } from './options.js';
import { parseInput, type ItemDraft } from './validate-items.js';
import {
  expectBoolean,
  expectInteger,
  expectNumber,
  expectObject,
  expectString,
  isObject,
  oneOf,
  orDefault,
  rejectUnknown,
  required,
  type JsonObject,
} from './validate-util.js';
import type { FunctionToolWire, ToolChoiceWire } from './wire.js';

/** A validated `POST /v1/responses` body. */
export interface CreateParams {
  model: string;
  input: ItemDraft[];
  instructions: string | null;
  previousResponseId: string | null;
  store: boolean;
  background: boolean;
  stream: boolean;
  include: string[];
  tools: FunctionToolWire[];
  toolChoice: ToolChoiceWire;
  parallelToolCalls: boolean;
  metadata: Record<string, string>;
  maxOutputTokens: number | null;
  temperature: number;
  topP: number;
  user: string | null;
  truncation: 'auto' | 'disabled';
  reasoningEffort: string | null;
}

/** Every parameter of the spec's `CreateResponse`; anything else is an unknown parameter. */
const KNOWN = new Set([
  'model',
  'input',
  'instructions',
  'previous_response_id',
  'store',
  'background',
  'stream',
  'stream_options',
  'include',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'metadata',
  'max_output_tokens',
  'max_tool_calls',
  'temperature',
  'top_p',
  'top_logprobs',
  'user',
  'safety_identifier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
  'service_tier',
  'truncation',
  'reasoning',
  'text',
  'moderation',
  'conversation',
  'context_management',
  'prompt',
]);

/** Parameters of the spec that the emulator cannot honour: rejected rather than silently ignored. */
const UNSUPPORTED = ['conversation', 'prompt', 'context_management'];

const INCLUDABLE = [
  'reasoning.encrypted_content',
  'message.output_text.logprobs',
  'file_search_call.results',
  'web_search_call.results',
  'web_search_call.action.sources',
  'message.input_image.image_url',
  'computer_call_output.output.image_url',
  'code_interpreter_call.outputs',
];

const TOOL_KEYS = new Set(['type', 'name', 'description', 'parameters', 'strict', 'defer_loading']);
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

function parseTool(value: unknown, index: number): FunctionToolWire {
  const prefix = `tools[${index}]`;
  const tool = expectObject(value, prefix);
  const type = expectString(required(tool, 'type', prefix), `${prefix}.type`);
  if (type !== 'function') throw invalidValue(`${prefix}.type`, type, ['function']);
  rejectUnknown(tool, TOOL_KEYS, prefix);
  const name = expectString(required(tool, 'name', prefix), `${prefix}.name`);
  if (!TOOL_NAME.test(name)) {
    throw invalidRequest(
      `Invalid '${prefix}.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
      `${prefix}.name`,
      'invalid_value',
    );
  }
  const parameters =
    tool.parameters === undefined || tool.parameters === null
      ? null
      : expectObject(tool.parameters, `${prefix}.parameters`);
  return {
    type: 'function',
    name,
    description: orDefault(tool.description, null, (v) => expectString(v, `${prefix}.description`)),
    parameters,
    strict: orDefault(tool.strict, true, (v) => expectBoolean(v, `${prefix}.strict`)),
  };
}

function parseTools(value: unknown): FunctionToolWire[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidType('tools', 'an array', value);
  const tools = value.map(parseTool);
  const seen = new Set<string>();
  for (const tool of tools) {
    if (seen.has(tool.name))
      throw invalidRequest(`Duplicate tool name: '${tool.name}'.`, 'tools', 'invalid_value');
    seen.add(tool.name);
  }
  return tools;
}

function parseToolChoice(value: unknown, tools: readonly FunctionToolWire[]): ToolChoiceWire {
  if (value === undefined || value === null) return 'auto';
  if (typeof value === 'string') return oneOf(value, 'tool_choice', ['none', 'auto', 'required']);
  const choice = expectObject(value, 'tool_choice');
  oneOf(required(choice, 'type', 'tool_choice'), 'tool_choice.type', ['function']);
  const name = expectString(required(choice, 'name', 'tool_choice'), 'tool_choice.name');
  if (!tools.some((tool) => tool.name === name)) {
    throw invalidRequest(
      `Tool choice '${name}' not found in 'tools' parameter.`,
      'tool_choice',
      'invalid_value',
    );
  }
  return { type: 'function', name };
}

function parseMetadata(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  const metadata = expectObject(value, 'metadata');
  const entries = Object.entries(metadata);
  if (entries.length > 16)
    throw invalidRequest(
      "Invalid 'metadata': too many properties. Expected an object with at most 16 properties.",
      'metadata',
      'object_above_max_properties',
    );
  for (const [key, v] of entries) {
    if (key.length > 64)
      throw invalidRequest(
        `Invalid 'metadata': key '${key.slice(0, 16)}…' is longer than 64 characters.`,
        'metadata',
        'invalid_value',
      );
    if (expectString(v, `metadata.${key}`).length > 512) {
      throw invalidRequest(
        `Invalid 'metadata.${key}': string too long. Expected a string with maximum length 512.`,
        `metadata.${key}`,
        'string_above_max_length',
      );
    }
  }
  return metadata as Record<string, string>;
}

function parseInclude(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidType('include', 'an array', value);
  return value.map((entry, i) => oneOf(entry, `include[${i}]`, INCLUDABLE));
}

function parseMaxOutputTokens(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  const max = expectInteger(value, 'max_output_tokens');
  if (max < 16) {
    throw invalidRequest(
      `Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got ${max} instead.`,
      'max_output_tokens',
      'integer_below_min_value',
    );
  }
  return max;
}

function parseReasoningEffort(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const reasoning = expectObject(value, 'reasoning');
  if (reasoning.effort === undefined || reasoning.effort === null) return null;
  return oneOf(reasoning.effort, 'reasoning.effort', ['none', 'minimal', 'low', 'medium', 'high', 'xhigh']);
}

function parseBody(body: unknown): JsonObject {
  if (!isObject(body)) throw invalidType('body', 'an object', body);
  for (const key of UNSUPPORTED)
    if (body[key] !== undefined && body[key] !== null) throw unsupportedParameter(key);
  rejectUnknown(body, KNOWN, '');
  return body;
}

/** Validates a create body, throwing the API's 400 for the first problem found. */
export function parseCreateParams(raw: unknown, assumptions: Assumptions): CreateParams {
  const body = parseBody(raw);
  if (body.model === undefined || body.model === null) throw missingParameter('model');
  const tools = parseTools(body.tools);
  const store = orDefault(body.store, true, (v) => expectBoolean(v, 'store'));
  const background = orDefault(body.background, false, (v) => expectBoolean(v, 'background'));
  if (background && !store) {
    throw invalidRequest(
      'Background responses must be stored: set store to true or background to false.',
      'background',
      'invalid_value',
    );
  }
  return {
    model: expectString(body.model, 'model'),
    input: parseInput(body.input, assumptions),
    instructions: orDefault(body.instructions, null, (v) => expectString(v, 'instructions')),
    previousResponseId: orDefault(body.previous_response_id, null, (v) =>
      expectString(v, 'previous_response_id'),
    ),
    store,
    background,
    stream: orDefault(body.stream, false, (v) => expectBoolean(v, 'stream')),
    include: parseInclude(body.include),
    tools,
    toolChoice: parseToolChoice(body.tool_choice, tools),
    parallelToolCalls: orDefault(body.parallel_tool_calls, true, (v) =>
      expectBoolean(v, 'parallel_tool_calls'),
    ),
    metadata: parseMetadata(body.metadata),
    maxOutputTokens: parseMaxOutputTokens(body.max_output_tokens),
    temperature: orDefault(body.temperature, 1, (v) => expectNumber(v, 'temperature')),
    topP: orDefault(body.top_p, 1, (v) => expectNumber(v, 'top_p')),
    user: orDefault(body.user, null, (v) => expectString(v, 'user')),
    truncation: orDefault(body.truncation, 'disabled' as const, (v) =>
      oneOf(v, 'truncation', ['auto', 'disabled']),
    ),
    reasoningEffort: parseReasoningEffort(body.reasoning),
  };
}
