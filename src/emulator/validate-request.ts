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
import type { FunctionToolWire, TextConfigWire, ToolChoiceWire } from './wire.js';

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
  presencePenalty: number;
  frequencyPenalty: number;
  topLogprobs: number;
  maxToolCalls: number | null;
  user: string | null;
  safetyIdentifier: string | null;
  promptCacheKey: string | null;
  promptCacheRetention: 'in_memory' | '24h' | null;
  serviceTier: string;
  truncation: 'auto' | 'disabled';
  reasoningEffort: string | null;
  reasoningSummary: string | null;
  text: TextConfigWire;
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
  // Not in the official spec's CreateResponse, but in Open Responses' CreateResponseBody.
  'presence_penalty',
  'frequency_penalty',
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

function toolNamed(name: string, tools: readonly FunctionToolWire[], param: string): void {
  if (!tools.some((tool) => tool.name === name)) {
    throw invalidRequest(`Tool choice '${name}' not found in 'tools' parameter.`, param, 'invalid_value');
  }
}

/** `{ type: 'allowed_tools', mode, tools: [{ type: 'function', name }] }`, function tools only. */
function parseAllowedTools(choice: JsonObject, tools: readonly FunctionToolWire[]): ToolChoiceWire {
  rejectUnknown(choice, new Set(['type', 'mode', 'tools']), 'tool_choice');
  const mode = oneOf(required(choice, 'mode', 'tool_choice'), 'tool_choice.mode', ['auto', 'required']);
  const list = required(choice, 'tools', 'tool_choice');
  if (!Array.isArray(list)) throw invalidType('tool_choice.tools', 'an array', list);
  if (list.length === 0) {
    throw invalidRequest(
      "Invalid 'tool_choice.tools': empty array. Expected an array with minimum length 1.",
      'tool_choice.tools',
      'empty_array',
    );
  }
  const allowed = list.map((value, i) => {
    const param = `tool_choice.tools[${i}]`;
    const entry = expectObject(value, param);
    oneOf(required(entry, 'type', param), `${param}.type`, ['function']);
    const name = expectString(required(entry, 'name', param), `${param}.name`);
    toolNamed(name, tools, `${param}.name`);
    return { type: 'function' as const, name };
  });
  return { type: 'allowed_tools', mode, tools: allowed };
}

function parseToolChoice(value: unknown, tools: readonly FunctionToolWire[]): ToolChoiceWire {
  if (value === undefined || value === null) return 'auto';
  if (typeof value === 'string') {
    const choice = oneOf(value, 'tool_choice', ['none', 'auto', 'required']);
    if (choice === 'required' && tools.length === 0) {
      throw invalidRequest(
        "Invalid value for 'tool_choice': 'required' needs at least one tool in 'tools'.",
        'tool_choice',
        'invalid_value',
      );
    }
    return choice;
  }
  const choice = expectObject(value, 'tool_choice');
  const type = oneOf(required(choice, 'type', 'tool_choice'), 'tool_choice.type', [
    'function',
    'allowed_tools',
  ]);
  if (type === 'allowed_tools') return parseAllowedTools(choice, tools);
  rejectUnknown(choice, new Set(['type', 'name']), 'tool_choice');
  const name = expectString(required(choice, 'name', 'tool_choice'), 'tool_choice.name');
  toolNamed(name, tools, 'tool_choice');
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

function parseReasoning(value: unknown): { effort: string | null; summary: string | null } {
  if (value === undefined || value === null) return { effort: null, summary: null };
  const reasoning = expectObject(value, 'reasoning');
  const effort = orDefault(reasoning.effort, null, (v) =>
    oneOf(v, 'reasoning.effort', ['none', 'minimal', 'low', 'medium', 'high', 'xhigh']),
  );
  const summary = orDefault(reasoning.summary ?? reasoning.generate_summary, null, (v) =>
    oneOf(v, 'reasoning.summary', ['auto', 'concise', 'detailed']),
  );
  return { effort, summary };
}

/** `text.format` (plain text, or JSON mode; structured outputs are not emulated) and `text.verbosity`. */
function parseText(value: unknown): TextConfigWire {
  if (value === undefined || value === null) return { format: { type: 'text' }, verbosity: 'medium' };
  const text = expectObject(value, 'text');
  let format: TextConfigWire['format'] = { type: 'text' };
  if (text.format !== undefined && text.format !== null) {
    const type = oneOf(
      required(expectObject(text.format, 'text.format'), 'type', 'text.format'),
      'text.format.type',
      ['text', 'json_object', 'json_schema'],
    );
    // A json_schema format is accepted and answered as plain text (structured outputs are not emulated).
    if (type === 'json_object') format = { type };
  }
  const verbosity = orDefault(text.verbosity, 'medium' as const, (v) =>
    oneOf(v, 'text.verbosity', ['low', 'medium', 'high']),
  );
  return { format, verbosity };
}

/** A number within [min, max], with the API's message past either bound. */
function numberWithin(value: unknown, param: string, min: number, max: number): number {
  const n = expectNumber(value, param);
  if (n < min || n > max) {
    const side = n < min ? 'below minimum' : 'above maximum';
    throw invalidRequest(
      `Invalid '${param}': decimal ${side} value. Expected a value ${n < min ? '>=' : '<='} ${n < min ? min : max}, but got ${n} instead.`,
      param,
      n < min ? 'decimal_below_min_value' : 'decimal_above_max_value',
    );
  }
  return n;
}

/** A string of at most `max` characters. */
function shortString(value: unknown, param: string, max: number): string {
  const text = expectString(value, param);
  if (text.length > max) {
    throw invalidRequest(
      `Invalid '${param}': string too long. Expected a string with maximum length ${max}, but got a string with length ${text.length} instead.`,
      param,
      'string_above_max_length',
    );
  }
  return text;
}

function integerWithin(value: unknown, param: string, min: number, max: number): number {
  const n = expectInteger(value, param);
  if (n < min || n > max) {
    throw invalidRequest(
      `Invalid '${param}': integer ${n < min ? 'below minimum' : 'above maximum'} value. Expected a value ${n < min ? '>=' : '<='} ${n < min ? min : max}, but got ${n} instead.`,
      param,
      n < min ? 'integer_below_min_value' : 'integer_above_max_value',
    );
  }
  return n;
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
  const reasoning = parseReasoning(body.reasoning);
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
    temperature: orDefault(body.temperature, 1, (v) => numberWithin(v, 'temperature', 0, 2)),
    topP: orDefault(body.top_p, 1, (v) => numberWithin(v, 'top_p', 0, 1)),
    presencePenalty: orDefault(body.presence_penalty, 0, (v) => numberWithin(v, 'presence_penalty', -2, 2)),
    frequencyPenalty: orDefault(body.frequency_penalty, 0, (v) =>
      numberWithin(v, 'frequency_penalty', -2, 2),
    ),
    topLogprobs: orDefault(body.top_logprobs, 0, (v) => integerWithin(v, 'top_logprobs', 0, 20)),
    maxToolCalls: orDefault(body.max_tool_calls, null, (v) =>
      integerWithin(v, 'max_tool_calls', 1, Number.MAX_SAFE_INTEGER),
    ),
    user: orDefault(body.user, null, (v) => expectString(v, 'user')),
    safetyIdentifier: orDefault(body.safety_identifier, null, (v) => shortString(v, 'safety_identifier', 64)),
    promptCacheKey: orDefault(body.prompt_cache_key, null, (v) => shortString(v, 'prompt_cache_key', 64)),
    promptCacheRetention: orDefault(body.prompt_cache_retention, null, (v) =>
      oneOf(v, 'prompt_cache_retention', ['in_memory', '24h']),
    ),
    // The tier that served the request: `auto` and `default` are served by the default tier.
    serviceTier: orDefault(body.service_tier, 'default', (v) => {
      const tier = oneOf(v, 'service_tier', ['auto', 'default', 'flex', 'scale', 'priority', 'fast']);
      return tier === 'auto' ? 'default' : tier === 'fast' ? 'priority' : tier;
    }),
    truncation: orDefault(body.truncation, 'disabled' as const, (v) =>
      oneOf(v, 'truncation', ['auto', 'disabled']),
    ),
    reasoningEffort: reasoning.effort,
    reasoningSummary: reasoning.summary,
    text: parseText(body.text),
  };
}

/** A validated `POST /v1/responses/compact` body. */
export interface CompactParams {
  model: string;
  input: ItemDraft[];
  instructions: string | null;
  previousResponseId: string | null;
}

const COMPACT_KNOWN = new Set([
  'model',
  'input',
  'previous_response_id',
  'instructions',
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
  'service_tier',
]);

/** Validates a compact body (the spec's `CompactResponseMethodPublicBody`). */
export function parseCompactParams(raw: unknown, assumptions: Assumptions): CompactParams {
  if (!isObject(raw)) throw invalidType('body', 'an object', raw);
  rejectUnknown(raw, COMPACT_KNOWN, '');
  if (raw.model === undefined || raw.model === null) throw missingParameter('model');
  if (raw.prompt_cache_key !== undefined && raw.prompt_cache_key !== null)
    shortString(raw.prompt_cache_key, 'prompt_cache_key', 64);
  return {
    model: expectString(raw.model, 'model'),
    input: parseInput(raw.input, assumptions),
    instructions: orDefault(raw.instructions, null, (v) => expectString(v, 'instructions')),
    previousResponseId: orDefault(raw.previous_response_id, null, (v) =>
      expectString(v, 'previous_response_id'),
    ),
  };
}
