import type { OutputItem } from '../core/items.js';

/**
 * Model output is untrusted input: keeps the items graft understands, in a shape it can rely on,
 * and drops anything else (a malformed item must not reach the log or the next request).
 */
export function sanitizeOutput(output: unknown): OutputItem[] {
  if (!Array.isArray(output)) return [];
  const items: OutputItem[] = [];
  for (const raw of output as unknown[]) {
    if (typeof raw !== 'object' || raw === null) continue;
    const item = raw as Record<string, unknown>;
    const id = typeof item.id === 'string' ? item.id : '';
    if (item.type === 'function_call' && typeof item.call_id === 'string' && typeof item.name === 'string') {
      const args = typeof item.arguments === 'string' ? item.arguments : JSON.stringify(item.arguments ?? {});
      items.push({
        type: 'function_call',
        id,
        call_id: item.call_id,
        name: item.name,
        arguments: args,
        status: 'completed',
      });
    } else if (item.type === 'message' && Array.isArray(item.content)) {
      const text = (item.content as unknown[])
        .map((part) =>
          typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string'
            ? (part as { text: string }).text
            : '',
        )
        .join('');
      items.push({
        type: 'message',
        id,
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text, annotations: [] }],
      });
    } else if (item.type === 'reasoning' && id !== '') {
      const summary = Array.isArray(item.summary)
        ? (item.summary as { type: 'summary_text'; text: string }[])
        : [];
      const encrypted = typeof item.encrypted_content === 'string' ? item.encrypted_content : null;
      items.push({ type: 'reasoning', id, summary, ...(encrypted ? { encrypted_content: encrypted } : {}) });
    }
  }
  return items;
}
