import type { ClassifiedCall } from '../core/events.js';
import { asIdempotencyKey } from '../core/ids.js';
import type { ToolRunResult, ToolRunner } from '../core/ports.js';
import type { KeyContext, ToolDefinition } from '../tools/define-tool.js';
import {
  DEFAULT_APPROVAL_TIMEOUT_MS,
  ToolRejection,
  canonicalJson,
  defaultIdempotencyKey,
} from '../tools/define-tool.js';

const MAX_ARGUMENT_CHARS = 64_000;

/**
 * Runs the tools of a graft instance. Model output is untrusted input: arguments are parsed and
 * validated before anything runs, and a bad call becomes an error for the model, never a crash.
 */
export function createToolRunner(
  tools: readonly ToolDefinition<never>[] | readonly ToolDefinition[],
): ToolRunner {
  const byName = new Map<string, ToolDefinition>((tools as ToolDefinition[]).map((t) => [t.name, t]));
  if (byName.size !== tools.length) throw new TypeError('Two tools have the same name.');

  function parse(
    tool: ToolDefinition,
    text: string,
  ): { ok: true; args: unknown } | { ok: false; error: string } {
    if (text.length > MAX_ARGUMENT_CHARS)
      return { ok: false, error: `arguments longer than ${MAX_ARGUMENT_CHARS} characters` };
    let json: unknown;
    try {
      json = JSON.parse(text === '' ? '{}' : text);
    } catch {
      return { ok: false, error: `arguments are not valid JSON for tool ${tool.name}` };
    }
    const parsed = tool.parameters.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ');
      return { ok: false, error: `invalid arguments for ${tool.name}: ${issues}` };
    }
    return { ok: true, args: parsed.data };
  }

  return {
    classify(call, ctx: KeyContext): ClassifiedCall {
      const base = { toolCallId: call.toolCallId, name: call.name, arguments: call.arguments };
      const tool = byName.get(call.name);
      if (!tool) return { ...base, kind: 'invalid', error: `unknown tool: ${call.name}` };
      const parsed = parse(tool, call.arguments);
      if (!parsed.ok) return { ...base, kind: 'invalid', error: parsed.error };
      if (tool.effect === 'read') return { ...base, kind: 'read' };
      let key: string;
      try {
        key = tool.idempotencyKey
          ? tool.idempotencyKey(parsed.args, ctx)
          : defaultIdempotencyKey(tool.name, parsed.args, ctx);
      } catch (error) {
        return { ...base, kind: 'invalid', error: `could not derive an idempotency key: ${String(error)}` };
      }
      const write = { ...base, kind: 'write' as const, idempotencyKey: asIdempotencyKey(key) };
      return needsApproval(tool, parsed.args, ctx)
        ? { ...write, approval: { timeoutMs: tool.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS } }
        : write;
    },

    async reconcile(call, ctx) {
      const tool = byName.get(call.tool);
      if (!tool?.reconcile) return null;
      const found = await tool.reconcile(call.idempotencyKey, ctx);
      return found.happened
        ? { happened: true, output: serialise(found.output).output }
        : { happened: false };
    },

    async run(call, ctx): Promise<ToolRunResult> {
      const tool = byName.get(call.tool);
      if (!tool)
        return { outcome: 'rejected', output: canonicalJson({ error: `unknown tool: ${call.tool}` }) };
      const parsed = parse(tool, call.arguments);
      if (!parsed.ok) return { outcome: 'rejected', output: canonicalJson({ error: parsed.error }) };
      let value: unknown;
      try {
        value = await tool.run(parsed.args, ctx);
      } catch (error) {
        return failure(tool, error);
      }
      // Serialised outside the tool's `try`: a result that cannot be written down still happened.
      return { outcome: 'done', ...serialise(value) };
    },
  };
}

/** Whether a write call needs a person's approval; a predicate that throws says yes (fail closed). */
function needsApproval(tool: ToolDefinition, args: unknown, ctx: KeyContext): boolean {
  if (typeof tool.approval !== 'function') return tool.approval === true;
  try {
    return tool.approval(args, ctx);
  } catch {
    return true;
  }
}

/**
 * A thrown tool. Failure is not absence: a write that throws anything but a `ToolRejection` may
 * have written before it threw, so its outcome is unknown. A read that throws told nothing.
 */
function failure(tool: ToolDefinition, error: unknown): ToolRunResult {
  const message = error instanceof Error ? error.message : String(error);
  const output = JSON.stringify({ error: message });
  if (error instanceof ToolRejection)
    return { outcome: 'rejected', output, ...(error.code === 'fenced' ? { fenced: true } : {}) };
  if (tool.effect === 'read') return { outcome: 'rejected', output };
  return { outcome: 'unknown', output, message };
}

/** A result as JSON text; one that cannot be serialised (a BigInt, a cycle) becomes a placeholder and a warning. */
function serialise(value: unknown): { output: string; warning?: string } {
  try {
    return { output: JSON.stringify(value ?? null) ?? 'null' };
  } catch (error) {
    const warning = `the result could not be serialised: ${error instanceof Error ? error.message : String(error)}`;
    return {
      output: JSON.stringify({ status: 'done', note: `The call completed, but ${warning}.` }),
      warning,
    };
  }
}
