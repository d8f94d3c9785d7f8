import type { OutputWireItem, ResponseObject, UnsequencedEvent } from './wire.js';

/**
 * Keeps a stored response's `output` in step with the events sent so far, so that a response
 * retrieved (or cancelled) mid-generation shows exactly the output its stream had shown.
 */
export function applyEvent(response: ResponseObject, event: UnsequencedEvent): void {
  const index = event.output_index as number;
  switch (event.type) {
    case 'response.output_item.added':
    case 'response.output_item.done':
      response.output[index] = structuredClone(event.item as OutputWireItem);
      return;
    case 'response.content_part.added': {
      const item = response.output[index];
      if (item?.type === 'message')
        item.content[event.content_index as number] = structuredClone(event.part as never);
      return;
    }
    case 'response.output_text.delta': {
      const item = response.output[index];
      const part = item?.type === 'message' ? item.content[event.content_index as number] : undefined;
      if (part?.type === 'output_text') part.text += event.delta as string;
      return;
    }
    case 'response.function_call_arguments.delta': {
      const item = response.output[index];
      if (item?.type === 'function_call') item.arguments += event.delta as string;
      return;
    }
    default:
      return;
  }
}
