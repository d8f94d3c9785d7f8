/**
 * The JSON shapes the emulator sends and stores, named after the spec's component schemas
 * (`Response`, `ResponseUsage`, `ItemResource`, `ResponseStreamEvent`). Field names are the API's.
 */

export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'cancelled' | 'incomplete';

export interface InputTextPart {
  type: 'input_text';
  text: string;
}

/** A picture in an input message: by URL (`https://…` or a `data:` URL) or by the id of an uploaded file. */
export interface InputImagePart {
  type: 'input_image';
  detail: 'low' | 'high' | 'auto' | 'original';
  image_url: string | null;
  /** Present only when the client named an uploaded file. */
  file_id?: string;
}

/** A file in an input message: its data, a URL or the id of an uploaded file (only what was given is kept). */
export interface InputFilePart {
  type: 'input_file';
  file_id?: string;
  filename?: string;
  file_data?: string;
  file_url?: string;
}

/** A content part of an input (user, system or developer) message. */
export type InputPart = InputTextPart | InputImagePart | InputFilePart;

export interface OutputTextPart {
  type: 'output_text';
  text: string;
  annotations: unknown[];
  logprobs?: unknown[];
}

export interface RefusalPart {
  type: 'refusal';
  refusal: string;
}

/** A message item as stored: content is always a list of parts. */
export interface MessageItem {
  id: string;
  type: 'message';
  role: 'user' | 'assistant' | 'system' | 'developer';
  status: 'in_progress' | 'completed' | 'incomplete';
  content: (InputPart | OutputTextPart | RefusalPart)[];
}

export interface FunctionCallWireItem {
  id: string;
  type: 'function_call';
  call_id: string;
  name: string;
  arguments: string;
  status: 'in_progress' | 'completed' | 'incomplete';
}

export interface FunctionCallOutputWireItem {
  id: string;
  type: 'function_call_output';
  call_id: string;
  /** A string, or content parts (text, pictures, files) as the client sent them. */
  output: string | InputPart[];
  status: 'in_progress' | 'completed' | 'incomplete';
}

export interface ReasoningWireItem {
  id: string;
  type: 'reasoning';
  summary: { type: 'summary_text'; text: string }[];
  encrypted_content?: string | null;
}

/**
 * The item `POST /v1/responses/compact` puts in place of the context it compacted. Its
 * `encrypted_content` is opaque to clients (see `compaction.ts`).
 */
export interface CompactionWireItem {
  id: string;
  type: 'compaction';
  encrypted_content: string;
}

/** An item of a response's context: what `input_items` lists and what a chain carries forward. */
export type WireItem =
  MessageItem | FunctionCallWireItem | FunctionCallOutputWireItem | ReasoningWireItem | CompactionWireItem;

/** An item of a response's `output`. */
export type OutputWireItem = MessageItem | FunctionCallWireItem | ReasoningWireItem;

/** An item of a compaction's `output`: the messages it kept, and the compaction item. */
export type CompactedWireItem = MessageItem | CompactionWireItem;

export interface FunctionToolWire {
  type: 'function';
  name: string;
  description: string | null;
  parameters: Record<string, unknown> | null;
  strict: boolean;
}

export type ToolChoiceWire =
  | 'none'
  | 'auto'
  | 'required'
  | { type: 'function'; name: string }
  | { type: 'allowed_tools'; mode: 'auto' | 'required'; tools: { type: 'function'; name: string }[] };

export interface UsageWire {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponseErrorWire {
  code: 'server_error' | 'rate_limit_exceeded';
  message: string;
}

export interface TextConfigWire {
  format: { type: 'text' } | { type: 'json_object' };
  verbosity: 'low' | 'medium' | 'high';
}

/** The `Response` object. */
export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  background: boolean;
  completed_at: number | null;
  error: ResponseErrorWire | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  max_tool_calls: number | null;
  model: string;
  output: OutputWireItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: string | null; summary: string | null };
  service_tier: string;
  store: boolean;
  temperature: number;
  presence_penalty: number;
  frequency_penalty: number;
  text: TextConfigWire;
  tool_choice: ToolChoiceWire;
  tools: FunctionToolWire[];
  top_logprobs: number;
  top_p: number;
  truncation: 'auto' | 'disabled';
  /**
   * Zero counts until the response has finished: the official spec's `ResponseUsage` is not
   * nullable and Open Responses requires the key (the API itself sends `null` there).
   */
  usage: UsageWire;
  /** Present only when the request set it (the spec's `user` is not nullable). */
  user?: string;
  safety_identifier: string | null;
  prompt_cache_key: string | null;
  /** Present only when the request set it. */
  prompt_cache_retention?: 'in_memory' | '24h';
  metadata: Record<string, string>;
}

/** The answer of `POST /v1/responses/compact` (the spec's `CompactResource`). */
export interface CompactionObject {
  id: string;
  object: 'response.compaction';
  created_at: number;
  output: CompactedWireItem[];
  usage: UsageWire;
}

/** A stream event; `sequence_number` is assigned when the event is emitted. */
export interface StreamEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}

export interface UnsequencedEvent {
  type: string;
  [field: string]: unknown;
}

/** The error envelope every failed request answers with. */
export interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}
