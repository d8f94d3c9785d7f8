/**
 * The subset of the OpenAI Responses API item shapes that graft reads and writes.
 * Field names follow the API (snake_case) because these objects cross that boundary as they are.
 */

/** A content part of an input message. */
export type InputContentPart =
  { type: 'input_text'; text: string } | { type: 'output_text'; text: string; annotations?: unknown[] };

/** A message in a request's `input`. */
export interface InputMessageItem {
  type: 'message';
  role: 'user' | 'assistant' | 'system' | 'developer';
  content: string | InputContentPart[];
}

/** A function call, as the model emits it or as graft replays (or grafts) it. */
export interface FunctionCallItem {
  type: 'function_call';
  call_id: string;
  name: string;
  /** JSON text, exactly as the model wrote it (untrusted). */
  arguments: string;
  /** Output-only fields: present on model output, never replayed by graft. */
  id?: string;
  status?: 'in_progress' | 'completed' | 'incomplete';
}

/** The result of a function call, sent back to the model. */
export interface FunctionCallOutputItem {
  type: 'function_call_output';
  call_id: string;
  output: string;
}

/** A reasoning item of a reasoning model; replayed in stateless mode with its encrypted content. */
export interface ReasoningItem {
  type: 'reasoning';
  id: string;
  summary: { type: 'summary_text'; text: string }[];
  encrypted_content?: string | null;
}

export type InputItem = InputMessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem;

/** An assistant message in a response's `output`. */
export interface OutputMessageItem {
  type: 'message';
  id: string;
  role: 'assistant';
  status: 'completed' | 'in_progress' | 'incomplete';
  content: { type: 'output_text'; text: string; annotations: unknown[] }[];
}

export type OutputItem = OutputMessageItem | (FunctionCallItem & { id: string }) | ReasoningItem;

/** A function tool as declared in a request's `tools`. */
export interface FunctionToolSpec {
  type: 'function';
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  strict: boolean;
}

/** Token usage of one model call, as the API bills it. */
export interface Usage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
}

/** The text of a message item, whatever shape its content has. */
export function messageText(item: InputMessageItem | OutputMessageItem): string {
  if (typeof item.content === 'string') return item.content;
  return item.content.map((part) => part.text).join('');
}

/** The assistant text of a response's output (empty when the model wrote none). */
export function outputText(output: readonly OutputItem[]): string {
  return output
    .filter((item): item is OutputMessageItem => item.type === 'message')
    .map(messageText)
    .join('\n');
}
