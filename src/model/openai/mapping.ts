import type {
  Response,
  ResponseCreateParamsStreaming,
  ResponseInputItem,
  ResponseOutputItem,
  ResponseUsage,
} from 'openai/resources/responses/responses';
import type { InputItem, OutputItem, Usage } from '../../core/items.js';
import type { ModelRequest, ModelResult } from '../../core/model-port.js';

/**
 * An item of the core's context as the SDK sends it. Output-only fields (`status`) are never
 * replayed: the API rejects some of them as unknown parameters.
 */
export function toSdkItem(item: InputItem): ResponseInputItem {
  switch (item.type) {
    case 'message': {
      if (typeof item.content === 'string' || item.role === 'assistant') {
        const text =
          typeof item.content === 'string' ? item.content : item.content.map((part) => part.text).join('');
        return { type: 'message', role: item.role, content: text };
      }
      return {
        type: 'message',
        role: item.role,
        content: item.content.map((part) => ({ type: 'input_text', text: part.text })),
      };
    }
    case 'function_call':
      return {
        type: 'function_call',
        call_id: item.call_id,
        name: item.name,
        arguments: item.arguments,
        ...(item.id === undefined ? {} : { id: item.id }),
      };
    case 'function_call_output':
      return { type: 'function_call_output', call_id: item.call_id, output: item.output };
    case 'reasoning':
      return {
        type: 'reasoning',
        id: item.id,
        summary: item.summary,
        ...(item.encrypted_content ? { encrypted_content: item.encrypted_content } : {}),
      };
  }
}

/** The streaming create of a model call. */
export function toCreateParams(request: ModelRequest, model: string): ResponseCreateParamsStreaming {
  return {
    model,
    instructions: request.instructions,
    input: request.input.map(toSdkItem),
    store: request.store,
    stream: true,
    ...(request.previousResponseId === null ? {} : { previous_response_id: request.previousResponseId }),
    ...(request.tools.length === 0
      ? {}
      : {
          tools: request.tools.map((tool) => ({
            type: 'function' as const,
            name: tool.name,
            description: tool.description,
            parameters: tool.parameters,
            strict: tool.strict,
          })),
        }),
    ...(request.include.length === 0
      ? {}
      : { include: request.include as ResponseCreateParamsStreaming['include'] }),
  };
}

/** An output item in the core's shape; kinds graft never asks for (built-in tools) are dropped. */
function fromSdkOutput(item: ResponseOutputItem): OutputItem | null {
  switch (item.type) {
    case 'message':
      return {
        type: 'message',
        id: item.id,
        role: 'assistant',
        status: item.status,
        content: item.content.map((part) =>
          part.type === 'output_text'
            ? { type: 'output_text', text: part.text, annotations: part.annotations }
            : { type: 'output_text', text: part.refusal, annotations: [] },
        ),
      };
    case 'function_call':
      return {
        type: 'function_call',
        id: item.id ?? item.call_id,
        call_id: item.call_id,
        name: item.name,
        arguments: item.arguments,
        ...(item.status === undefined ? {} : { status: item.status }),
      };
    case 'reasoning':
      return {
        type: 'reasoning',
        id: item.id,
        summary: item.summary.map((part) => ({ type: 'summary_text', text: part.text })),
        encrypted_content: item.encrypted_content ?? null,
      };
    default:
      return null;
  }
}

export function fromSdkUsage(usage: ResponseUsage | undefined | null): Usage {
  return {
    inputTokens: usage?.input_tokens ?? 0,
    cachedInputTokens: usage?.input_tokens_details?.cached_tokens ?? 0,
    outputTokens: usage?.output_tokens ?? 0,
    reasoningTokens: usage?.output_tokens_details?.reasoning_tokens ?? 0,
  };
}

/** A finished response (`completed` or `incomplete`) as the core records it. */
export function toModelResult(response: Response): ModelResult {
  return {
    responseId: response.id,
    output: response.output.map(fromSdkOutput).filter((item): item is OutputItem => item !== null),
    usage: fromSdkUsage(response.usage),
    status: response.status === 'incomplete' ? 'incomplete' : 'completed',
  };
}
