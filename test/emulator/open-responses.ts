import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/**
 * The requirements of the Open Responses specification where it is stricter than the official
 * OpenAPI spec (test/fixtures/openai-openapi.yml), checked by hand.
 *
 * Source: the Open Responses schema, https://github.com/openresponses/openresponses
 * (public/openapi/openapi.json, version 2026-04-24; also published as zod). It is not copied into
 * this repository: these checks restate the requirements that matter for the emulator in our own
 * words. Set GRAFT_OPEN_RESPONSES_SCHEMA to a local copy of that file to validate against the
 * whole schema as well (see {@link loadOpenResponsesSchema}).
 */

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isInteger = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value);
const isNumber = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value);
const isString = (value: unknown): boolean => typeof value === 'string';
const orNull =
  (check: (value: unknown) => boolean) =>
  (value: unknown): boolean =>
    value === null || check(value);

/** A key that must be present (possibly null), with the value the check accepts. */
function need(
  where: string,
  object: Json,
  key: string,
  check: (value: unknown) => boolean,
  out: string[],
): void {
  if (!(key in object)) out.push(`${where}: '${key}' is missing`);
  else if (!check(object[key]))
    out.push(`${where}: '${key}' has a value of the wrong kind: ${JSON.stringify(object[key])}`);
}

/** Usage must break its counts down: `input_tokens_details.cached_tokens`, `output_tokens_details.reasoning_tokens`. */
function usageOk(value: unknown): boolean {
  if (!isObject(value)) return false;
  return (
    isInteger(value.input_tokens) &&
    isInteger(value.output_tokens) &&
    isInteger(value.total_tokens) &&
    isObject(value.input_tokens_details) &&
    isInteger(value.input_tokens_details.cached_tokens) &&
    isObject(value.output_tokens_details) &&
    isInteger(value.output_tokens_details.reasoning_tokens)
  );
}

function contentPartProblems(where: string, part: unknown, out: string[]): void {
  if (!isObject(part)) return void out.push(`${where}: not an object`);
  if (part.type === 'output_text') need(where, part, 'annotations', Array.isArray, out);
  if (part.type === 'input_image') {
    // Open Responses lists the picture's URL (or null) and its detail on every listed image part.
    need(where, part, 'image_url', orNull(isString), out);
    need(where, part, 'detail', (v) => v === 'low' || v === 'high' || v === 'auto', out);
  }
  if (part.type === 'input_file') {
    for (const key of ['filename', 'file_url']) {
      if (key in part && !isString(part[key])) out.push(`${where}: '${key}' must be a string when present`);
    }
  }
}

/** An item of an output, of a compaction, or of a list: every field Open Responses requires of its kind. */
export function itemProblems(where: string, item: unknown, out: string[] = []): string[] {
  if (!isObject(item)) return [...out, `${where}: not an object`];
  switch (item.type) {
    case 'message':
      for (const key of ['id', 'status', 'role']) need(where, item, key, isString, out);
      need(where, item, 'content', Array.isArray, out);
      if (Array.isArray(item.content))
        item.content.forEach((p, i) => contentPartProblems(`${where}.content[${i}]`, p, out));
      break;
    case 'function_call':
      for (const key of ['id', 'call_id', 'name', 'arguments', 'status'])
        need(where, item, key, isString, out);
      break;
    case 'function_call_output':
      for (const key of ['id', 'call_id', 'status']) need(where, item, key, isString, out);
      need(where, item, 'output', (v) => isString(v) || Array.isArray(v), out);
      break;
    case 'reasoning':
      need(where, item, 'id', isString, out);
      need(where, item, 'summary', Array.isArray, out);
      if ('encrypted_content' in item && !isString(item.encrypted_content))
        out.push(`${where}: 'encrypted_content' must be a string when present`);
      break;
    case 'compaction':
      need(where, item, 'id', isString, out);
      need(where, item, 'encrypted_content', isString, out);
      break;
    default:
      out.push(`${where}: an item of type '${String(item.type)}' is not one Open Responses knows`);
  }
  return out;
}

/** The keys Open Responses requires on every response object, each with the kind of value it allows. */
const RESPONSE_KEYS: [string, (value: unknown) => boolean][] = [
  ['id', isString],
  ['object', (v) => v === 'response'],
  ['created_at', isInteger],
  ['completed_at', orNull(isInteger)],
  ['status', isString],
  ['incomplete_details', orNull((v) => isObject(v) && isString(v.reason))],
  ['model', isString],
  ['previous_response_id', orNull(isString)],
  ['instructions', orNull(isString)],
  ['output', Array.isArray],
  ['error', orNull((v) => isObject(v) && isString(v.code) && isString(v.message))],
  ['tools', Array.isArray],
  ['tool_choice', (v) => isString(v) || isObject(v)],
  ['truncation', (v) => v === 'auto' || v === 'disabled'],
  ['parallel_tool_calls', (v) => typeof v === 'boolean'],
  ['text', (v) => isObject(v) && isObject(v.format)],
  ['top_p', isNumber],
  ['presence_penalty', isNumber],
  ['frequency_penalty', isNumber],
  ['top_logprobs', isInteger],
  ['temperature', isNumber],
  ['reasoning', orNull((v) => isObject(v) && 'effort' in v && 'summary' in v)],
  ['usage', orNull(usageOk)],
  ['max_output_tokens', orNull(isInteger)],
  ['max_tool_calls', orNull(isInteger)],
  ['store', (v) => typeof v === 'boolean'],
  ['background', (v) => typeof v === 'boolean'],
  ['service_tier', isString],
  ['metadata', isObject],
  ['safety_identifier', orNull(isString)],
  ['prompt_cache_key', orNull(isString)],
];

export function responseProblems(where: string, response: unknown, out: string[] = []): string[] {
  if (!isObject(response)) return [...out, `${where}: not an object`];
  for (const [key, check] of RESPONSE_KEYS) need(where, response, key, check, out);
  if (Array.isArray(response.tools)) {
    response.tools.forEach((tool, i) => {
      // Every declared function tool lists its description, parameters and strictness (each may be null).
      if (!isObject(tool)) return void out.push(`${where}.tools[${i}]: not an object`);
      for (const key of ['type', 'name']) need(`${where}.tools[${i}]`, tool, key, isString, out);
      for (const key of ['description', 'parameters', 'strict'])
        need(`${where}.tools[${i}]`, tool, key, () => true, out);
    });
  }
  const choice = response.tool_choice;
  if (isObject(choice) && choice.type === 'allowed_tools')
    need(`${where}.tool_choice`, choice, 'mode', isString, out);
  if (Array.isArray(response.output))
    response.output.forEach((item, i) => itemProblems(`${where}.output[${i}]`, item, out));
  return out;
}

const SNAPSHOT_EVENTS = new Set([
  'response.created',
  'response.queued',
  'response.in_progress',
  'response.completed',
  'response.failed',
  'response.incomplete',
]);

/** A stream event (over SSE or a WebSocket). */
export function eventProblems(event: unknown, out: string[] = []): string[] {
  if (!isObject(event)) return [...out, 'event: not an object'];
  const where = `event ${String(event.type)}`;
  if (event.type === 'error' && !('sequence_number' in event)) return webSocketErrorProblems(event, out);
  need(where, event, 'sequence_number', isInteger, out);
  const type = String(event.type);
  if (SNAPSHOT_EVENTS.has(type)) responseProblems(`${where}.response`, event.response, out);
  if (type === 'response.output_item.added' || type === 'response.output_item.done') {
    need(where, event, 'output_index', isInteger, out);
    itemProblems(`${where}.item`, event.item, out);
  }
  if (type.startsWith('response.content_part.') || type.startsWith('response.output_text.')) {
    for (const key of ['output_index', 'content_index']) need(where, event, key, isInteger, out);
    need(where, event, 'item_id', isString, out);
  }
  if (type.startsWith('response.content_part.')) contentPartProblems(`${where}.part`, event.part, out);
  if (type.startsWith('response.function_call_arguments.')) {
    need(where, event, 'output_index', isInteger, out);
    need(where, event, 'item_id', isString, out);
  }
  if (type === 'error') {
    // The error of a stream is a nested object with its type, code, message and param.
    need(where, event, 'error', isObject, out);
    if (isObject(event.error)) {
      need(`${where}.error`, event.error, 'type', isString, out);
      need(`${where}.error`, event.error, 'code', orNull(isString), out);
      need(`${where}.error`, event.error, 'message', isString, out);
      need(`${where}.error`, event.error, 'param', orNull(isString), out);
    }
  }
  return out;
}

/** An `error` a WebSocket session sends for a failed request: an HTTP-like status and a string code. */
export function webSocketErrorProblems(event: Json, out: string[] = []): string[] {
  need('websocket error', event, 'status', isInteger, out);
  need('websocket error', event, 'error', isObject, out);
  if (isObject(event.error)) {
    need('websocket error.error', event.error, 'code', isString, out);
    need('websocket error.error', event.error, 'message', isString, out);
  }
  return out;
}

/** The answer of `POST /v1/responses/compact`. */
export function compactionProblems(body: unknown, out: string[] = []): string[] {
  if (!isObject(body)) return [...out, 'compaction: not an object'];
  need('compaction', body, 'id', isString, out);
  need('compaction', body, 'object', (v) => v === 'response.compaction', out);
  need('compaction', body, 'created_at', isInteger, out);
  need('compaction', body, 'usage', usageOk, out);
  need('compaction', body, 'output', Array.isArray, out);
  if (Array.isArray(body.output))
    body.output.forEach((item, i) => itemProblems(`compaction.output[${i}]`, item, out));
  return out;
}

/** Validators compiled from a local copy of the Open Responses OpenAPI document. */
export interface OpenResponsesSchema {
  /** Problems of a body or event against the named component schema ([] when valid). */
  problems(schemaName: string, value: unknown): string[];
  /** The component schema of a stream event's type, from the document's `text/event-stream` union. */
  eventSchema(type: string): string | null;
}

/**
 * The whole Open Responses schema, when GRAFT_OPEN_RESPONSES_SCHEMA names a local copy of
 * public/openapi/openapi.json (not in this repository); null otherwise.
 */
export function loadOpenResponsesSchema(): OpenResponsesSchema | null {
  const path = process.env.GRAFT_OPEN_RESPONSES_SCHEMA;
  if (!path) return null;
  const document = JSON.parse(readFileSync(path, 'utf8')) as {
    components: { schemas: Record<string, { properties?: { type?: { enum?: string[] } } }> };
    paths: Record<
      string,
      {
        post?: {
          responses?: Record<
            string,
            { content?: Record<string, { schema?: { oneOf?: { $ref: string }[] } }> }
          >;
        };
      }
    >;
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'openresponses', components: document.components });
  const events = new Map<string, string>();
  const union =
    document.paths['/responses']?.post?.responses?.['200']?.content?.['text/event-stream']?.schema?.oneOf ??
    [];
  for (const { $ref } of union) {
    const name = $ref.split('/').at(-1)!;
    const type = document.components.schemas[name]?.properties?.type?.enum?.[0];
    if (type) events.set(type, name);
  }
  const compiled = new Map<string, ValidateFunction>();
  return {
    problems(schemaName, value) {
      let fn = compiled.get(schemaName);
      if (!fn) {
        fn = ajv.getSchema(`openresponses#/components/schemas/${schemaName}`);
        if (!fn) return [`Open Responses has no schema '${schemaName}'`];
        compiled.set(schemaName, fn);
      }
      if (fn(value)) return [];
      return (fn.errors ?? [])
        .slice(0, 6)
        .map((e) => `${schemaName}${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
    },
    eventSchema: (type) => events.get(type) ?? null,
  };
}
