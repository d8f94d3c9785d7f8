import { invalidRequest, invalidType, invalidValue, unknownParameter } from './api-error.js';
import type { Assumptions } from './options.js';
import {
  expectObject,
  expectString,
  isObject,
  join,
  oneOf,
  orDefault,
  rejectUnknown,
  required,
  type JsonObject,
} from './validate-util.js';
import type {
  CompactionWireItem,
  FunctionCallOutputWireItem,
  FunctionCallWireItem,
  InputFilePart,
  InputImagePart,
  InputPart,
  MessageItem,
  OutputTextPart,
  ReasoningWireItem,
  RefusalPart,
} from './wire.js';

/** An input item after validation: the stored shape, with an id only when the client gave one. */
export type ItemDraft =
  | (Omit<MessageItem, 'id'> & { id: string | null })
  | (Omit<FunctionCallWireItem, 'id'> & { id: string | null })
  | (Omit<FunctionCallOutputWireItem, 'id'> & { id: string | null })
  | (Omit<CompactionWireItem, 'id'> & { id: string | null })
  | ReasoningWireItem;

const ITEM_TYPES = ['message', 'function_call', 'function_call_output', 'reasoning', 'compaction'] as const;
const ROLES = ['user', 'assistant', 'system', 'developer'] as const;
const ITEM_STATUSES = ['in_progress', 'completed', 'incomplete'] as const;

const MESSAGE_KEYS = new Set(['type', 'role', 'content', 'id', 'status', 'phase']);
const CALL_KEYS = new Set(['type', 'id', 'call_id', 'name', 'arguments', 'status']);
const OUTPUT_KEYS = new Set(['type', 'id', 'call_id', 'output', 'status']);
const REASONING_KEYS = new Set(['type', 'id', 'summary', 'encrypted_content', 'content', 'status']);
const COMPACTION_KEYS = new Set(['type', 'id', 'encrypted_content', 'created_by']);
// `prompt_cache_breakpoint` is accepted on input parts and ignored (the emulator's cache is implicit).
const INPUT_TEXT_KEYS = new Set(['type', 'text', 'prompt_cache_breakpoint']);
const INPUT_IMAGE_KEYS = new Set(['type', 'image_url', 'file_id', 'detail', 'prompt_cache_breakpoint']);
const INPUT_FILE_KEYS = new Set([
  'type',
  'file_id',
  'filename',
  'file_data',
  'file_url',
  'detail',
  'prompt_cache_breakpoint',
]);
const IMAGE_TYPES = /^data:image\/(png|jpeg|jpg|gif|webp);base64,[A-Za-z0-9+/=\s]*$/;
const OUTPUT_TEXT_KEYS = new Set(['type', 'text', 'annotations', 'logprobs']);
const REFUSAL_KEYS = new Set(['type', 'refusal']);
const SUMMARY_KEYS = new Set(['type', 'text']);

type Status = (typeof ITEM_STATUSES)[number];

/**
 * The output-only `status` of a replayed item. `null` is accepted only where the spec allows it
 * (function_call_output); elsewhere the API treats it as an unknown parameter.
 */
function replayedStatus(
  item: JsonObject,
  prefix: string,
  assumptions: Assumptions,
  nullable: boolean,
): Status {
  const status = item.status;
  if (status === undefined) return 'completed';
  if (status === null) {
    if (nullable) return 'completed';
    throw unknownParameter(join(prefix, 'status'));
  }
  if (assumptions.replayedStatus === 'reject' && !nullable) throw unknownParameter(join(prefix, 'status'));
  return oneOf(status, join(prefix, 'status'), ITEM_STATUSES);
}

function optionalId(item: JsonObject, prefix: string): string | null {
  return item.id === undefined || item.id === null ? null : expectString(item.id, join(prefix, 'id'));
}

/** An optional string field: absent or null is null. */
function optionalString(part: JsonObject, key: string, param: string): string | null {
  const value = part[key];
  return value === undefined || value === null ? null : expectString(value, join(param, key));
}

function invalidUrl(param: string): Error {
  return invalidRequest(
    `Invalid '${param}'. Expected a valid URL, but got a value with an invalid format.`,
    param,
    'invalid_value',
  );
}

/** An `http(s)` URL, or for pictures a base64 `data:` URL of an image type. */
function checkUrl(url: string, param: string, allowData: boolean): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidUrl(param);
  }
  if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return;
  if (!allowData || parsed.protocol !== 'data:') throw invalidUrl(param);
  if (!IMAGE_TYPES.test(url)) {
    const mime = /^data:([^;,]*)/.exec(url)?.[1] ?? '';
    throw invalidRequest(
      `Invalid '${param}'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got unsupported MIME type '${mime}'.`,
      param,
      'invalid_value',
    );
  }
}

function missingSource(param: string, keys: readonly string[]): Error {
  return invalidRequest(
    `Invalid '${param}': one of ${keys.map((key) => `'${key}'`).join(', ')} must be provided.`,
    param,
    'missing_required_parameter',
  );
}

function imagePart(part: JsonObject, param: string): InputImagePart {
  rejectUnknown(part, INPUT_IMAGE_KEYS, param);
  const imageUrl = optionalString(part, 'image_url', param);
  const fileId = optionalString(part, 'file_id', param);
  if (imageUrl === null && fileId === null) throw missingSource(param, ['image_url', 'file_id']);
  if (imageUrl !== null) checkUrl(imageUrl, join(param, 'image_url'), true);
  const detail = orDefault(part.detail, 'auto' as const, (v) =>
    oneOf(v, join(param, 'detail'), ['low', 'high', 'auto', 'original']),
  );
  return {
    type: 'input_image',
    detail,
    image_url: imageUrl,
    ...(fileId === null ? {} : { file_id: fileId }),
  };
}

function filePart(part: JsonObject, param: string): InputFilePart {
  rejectUnknown(part, INPUT_FILE_KEYS, param);
  const fields = {
    file_id: optionalString(part, 'file_id', param),
    filename: optionalString(part, 'filename', param),
    file_data: optionalString(part, 'file_data', param),
    file_url: optionalString(part, 'file_url', param),
  };
  if (fields.file_id === null && fields.file_data === null && fields.file_url === null) {
    throw missingSource(param, ['file_id', 'file_data', 'file_url']);
  }
  if (fields.file_url !== null) checkUrl(fields.file_url, join(param, 'file_url'), false);
  if (part.detail !== undefined && part.detail !== null)
    oneOf(part.detail, join(param, 'detail'), ['auto', 'low', 'high']);
  // Only the fields given are kept: the schemas allow no null in them.
  const kept: InputFilePart = { type: 'input_file' };
  for (const [key, value] of Object.entries(fields)) if (value !== null) kept[key as 'file_id'] = value;
  return kept;
}

/** A content part of an input message: text, a picture or a file. */
function userPart(value: unknown, param: string): InputPart {
  const part = expectObject(value, param);
  const type = oneOf(required(part, 'type', param), join(param, 'type'), [
    'input_text',
    'input_image',
    'input_file',
  ]);
  if (type === 'input_image') return imagePart(part, param);
  if (type === 'input_file') return filePart(part, param);
  rejectUnknown(part, INPUT_TEXT_KEYS, param);
  return { type: 'input_text', text: expectString(required(part, 'text', param), join(param, 'text')) };
}

function assistantPart(value: unknown, param: string): OutputTextPart | RefusalPart {
  const part = expectObject(value, param);
  const type = oneOf(required(part, 'type', param), join(param, 'type'), ['output_text', 'refusal']);
  if (type === 'refusal') {
    rejectUnknown(part, REFUSAL_KEYS, param);
    return { type, refusal: expectString(required(part, 'refusal', param), join(param, 'refusal')) };
  }
  rejectUnknown(part, OUTPUT_TEXT_KEYS, param);
  const text = expectString(required(part, 'text', param), join(param, 'text'));
  const annotations = part.annotations === undefined ? [] : part.annotations;
  if (!Array.isArray(annotations)) throw invalidType(join(param, 'annotations'), 'an array', annotations);
  return { type, text, annotations };
}

function messageItem(item: JsonObject, prefix: string, assumptions: Assumptions): ItemDraft {
  rejectUnknown(item, MESSAGE_KEYS, prefix);
  const role = oneOf(required(item, 'role', prefix), join(prefix, 'role'), ROLES);
  const content = required(item, 'content', prefix);
  const param = join(prefix, 'content');
  let parts: MessageItem['content'];
  if (typeof content === 'string') {
    parts =
      role === 'assistant'
        ? [{ type: 'output_text', text: content, annotations: [] }]
        : [{ type: 'input_text', text: content }];
  } else if (Array.isArray(content)) {
    parts = content.map((part, i) =>
      role === 'assistant' ? assistantPart(part, `${param}[${i}]`) : userPart(part, `${param}[${i}]`),
    );
  } else {
    throw invalidType(param, 'one of a string or an array of content parts', content);
  }
  if (item.phase !== undefined && item.phase !== null) expectString(item.phase, join(prefix, 'phase'));
  const status = replayedStatus(item, prefix, assumptions, false);
  return { id: optionalId(item, prefix), type: 'message', role, status, content: parts };
}

function functionCallItem(item: JsonObject, prefix: string, assumptions: Assumptions): ItemDraft {
  rejectUnknown(item, CALL_KEYS, prefix);
  return {
    id: optionalId(item, prefix),
    type: 'function_call',
    call_id: expectString(required(item, 'call_id', prefix), join(prefix, 'call_id')),
    name: expectString(required(item, 'name', prefix), join(prefix, 'name')),
    arguments: expectString(required(item, 'arguments', prefix), join(prefix, 'arguments')),
    status: replayedStatus(item, prefix, assumptions, false),
  };
}

/** The output of a function_call_output: a string, or content parts (text, pictures, files). */
function outputValue(value: unknown, param: string): string | InputPart[] {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) throw invalidType(param, 'one of a string or an array of content parts', value);
  return value.map((part, i) => userPart(part, `${param}[${i}]`));
}

function functionCallOutputItem(item: JsonObject, prefix: string, assumptions: Assumptions): ItemDraft {
  rejectUnknown(item, OUTPUT_KEYS, prefix);
  return {
    id: optionalId(item, prefix),
    type: 'function_call_output',
    call_id: expectString(required(item, 'call_id', prefix), join(prefix, 'call_id')),
    output: outputValue(required(item, 'output', prefix), join(prefix, 'output')),
    status: replayedStatus(item, prefix, assumptions, true),
  };
}

function reasoningItem(item: JsonObject, prefix: string, assumptions: Assumptions): ItemDraft {
  rejectUnknown(item, REASONING_KEYS, prefix);
  replayedStatus(item, prefix, assumptions, false);
  const summaryParam = join(prefix, 'summary');
  const summary = required(item, 'summary', prefix);
  if (!Array.isArray(summary)) throw invalidType(summaryParam, 'an array', summary);
  const parts = summary.map((value, i) => {
    const part = expectObject(value, `${summaryParam}[${i}]`);
    rejectUnknown(part, SUMMARY_KEYS, `${summaryParam}[${i}]`);
    oneOf(required(part, 'type', `${summaryParam}[${i}]`), `${summaryParam}[${i}].type`, ['summary_text']);
    return {
      type: 'summary_text' as const,
      text: expectString(required(part, 'text', `${summaryParam}[${i}]`), `${summaryParam}[${i}].text`),
    };
  });
  const encrypted = item.encrypted_content;
  return {
    id: expectString(required(item, 'id', prefix), join(prefix, 'id')),
    type: 'reasoning',
    summary: parts,
    encrypted_content:
      encrypted === undefined || encrypted === null
        ? null
        : expectString(encrypted, join(prefix, 'encrypted_content')),
  };
}

/** A compaction item replayed from `POST /v1/responses/compact` (its content is checked in context). */
function compactionItem(item: JsonObject, prefix: string): ItemDraft {
  rejectUnknown(item, COMPACTION_KEYS, prefix);
  return {
    id: optionalId(item, prefix),
    type: 'compaction',
    encrypted_content: expectString(
      required(item, 'encrypted_content', prefix),
      join(prefix, 'encrypted_content'),
    ),
  };
}

/** Validates one element of `input`. */
export function parseInputItem(value: unknown, index: number, assumptions: Assumptions): ItemDraft {
  const prefix = `input[${index}]`;
  if (!isObject(value)) throw invalidType(prefix, 'an object', value);
  const type = value.type === undefined ? 'message' : value.type;
  if (typeof type !== 'string' || !(ITEM_TYPES as readonly string[]).includes(type)) {
    throw invalidValue(join(prefix, 'type'), type, ITEM_TYPES);
  }
  switch (type) {
    case 'message':
      return messageItem(value, prefix, assumptions);
    case 'function_call':
      return functionCallItem(value, prefix, assumptions);
    case 'function_call_output':
      return functionCallOutputItem(value, prefix, assumptions);
    case 'compaction':
      return compactionItem(value, prefix);
    default:
      return reasoningItem(value, prefix, assumptions);
  }
}

/** Validates `input`: a string (one user message) or a list of items. */
export function parseInput(value: unknown, assumptions: Assumptions): ItemDraft[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') {
    return [
      {
        id: null,
        type: 'message',
        role: 'user',
        status: 'completed',
        content: [{ type: 'input_text', text: value }],
      },
    ];
  }
  if (!Array.isArray(value)) throw invalidType('input', 'one of a string or an array of input items', value);
  return value.map((item, i) => parseInputItem(item, i, assumptions));
}
