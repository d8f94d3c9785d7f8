import type { Brain, BrainOutput, BrainRequest } from '../core/brain.js';
import { GraftError } from '../core/errors.js';

/** One scripted model call: fixed outputs, or a function of the request (to assert on it). */
export type ScriptStep = readonly BrainOutput[] | ((request: BrainRequest) => BrainOutput[]);

/** A call the script did not expect. In the emulator it becomes an HTTP 500 carrying this message. */
export class UnexpectedModelCallError extends GraftError {
  override readonly name = 'UnexpectedModelCallError';
  readonly kind = 'invariant';
  readonly code = 'unexpected_model_call';
}

export interface ScriptedBrain extends Brain {
  /** Every request the brain received, in order. */
  readonly calls: readonly BrainRequest[];
  /** How many scripted steps are left. */
  remaining(): number;
}

function describeLast(request: BrainRequest): string {
  const last = request.input.at(-1);
  const text = last === undefined ? 'none' : JSON.stringify(last);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * A brain that answers each call with the next step of a script, and fails loudly on a call the
 * script does not have (it throws, so the emulator answers 500 with the message).
 *
 * @example
 * const brain = createScriptedBrain([
 *   [{ type: 'function_call', name: 'create_order', arguments: '{"item":"pizza"}' }],
 *   [{ type: 'message', text: 'Your order is placed.' }],
 * ]);
 */
export function createScriptedBrain(steps: readonly ScriptStep[]): ScriptedBrain {
  const calls: BrainRequest[] = [];
  let next = 0;
  const brain = (request: BrainRequest): BrainOutput[] => {
    calls.push(request);
    const step = steps[next];
    if (step === undefined) {
      throw new UnexpectedModelCallError(
        `Scripted brain: unexpected model call #${calls.length}; the script has ${steps.length} step(s). Last input item: ${describeLast(request)}`,
      );
    }
    next++;
    return typeof step === 'function' ? step(request) : [...step];
  };
  return Object.assign(brain, { calls, remaining: () => steps.length - next });
}

/** Shorthands for script steps. */
export const say = (text: string): BrainOutput => ({ type: 'message', text });
export const callTool = (name: string, args: unknown): BrainOutput => ({
  type: 'function_call',
  name,
  arguments: JSON.stringify(args),
});
