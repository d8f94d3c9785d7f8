/**
 * The JSON shapes the emulator sends and stores, named after the spec's component schemas
 * (`Response`, `ResponseUsage`, `ItemResource`, `ResponseStreamEvent`). Field names are the API's.
 */

export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'cancelled' | 'incomplete';

export interface InputTextPart {
  type: 'input_text';
  text: string;
}

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
  content: (InputTextPart | OutputTextPart | RefusalPart)[];
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
  output: string;
  status: 'in_progress' | 'completed' | 'incomplete';
}

export interface ReasoningWireItem {
  id: string;
  type: 'reasoning';
  summary: { type: 'summary_text'; text: string }[];
  encrypted_content?: string | null;
}

/** An item of a response's context: what `input_items` lists and what a chain carries forward. */
export type WireItem = MessageItem | FunctionCallWireItem | FunctionCallOutputWireItem | ReasoningWireItem;

/** An item of a response's `output`. */
export type OutputWireItem = MessageItem | FunctionCallWireItem | ReasoningWireItem;

export interface FunctionToolWire {
  type: 'function';
  name: string;
  description: string | null;
  parameters: Record<string, unknown> | null;
  strict: boolean;
}

export type ToolChoiceWire = 'none' | 'auto' | 'required' | { type: 'function'; name: string };

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
  text: { format: { type: 'text' } };
  tool_choice: ToolChoiceWire;
  tools: FunctionToolWire[];
  top_logprobs: number;
  top_p: number;
  truncation: 'auto' | 'disabled';
  /** Absent until the response has finished (the spec's `ResponseUsage` is not nullable). */
  usage?: UsageWire;
  /** Present only when the request set it (the spec's `user` is not nullable). */
  user?: string;
  metadata: Record<string, string>;
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
