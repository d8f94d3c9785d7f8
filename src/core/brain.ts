import type { FunctionToolSpec, InputItem } from './items.js';

/**
 * A model brain: the deterministic decision procedure behind the simulated model and the emulator.
 * It sees the whole context of a call (the chain already resolved into items) and answers with
 * output items without ids; whoever hosts it (the simulator, the emulator) assigns ids and usage.
 */
export interface BrainRequest {
  model: string;
  instructions: string | null;
  /** The full context, oldest first: the parent chain's inputs and outputs, then this call's input. */
  input: readonly InputItem[];
  tools: readonly FunctionToolSpec[];
  /**
   * The pictures and files the context's items hold (`input` carries only their text), when
   * there are any: a brain that cannot read them can say so.
   */
  attachments?: readonly BrainAttachment[];
}

/** A picture or a file in the context, and the item of `input` that holds it. */
export interface BrainAttachment {
  /** The index in `input` of the message (or function call output) that holds it. */
  index: number;
  kind: 'image' | 'file';
  /** The file's name, when the client gave one. */
  filename: string | null;
}

export type BrainOutput =
  { type: 'message'; text: string } | { type: 'function_call'; name: string; arguments: string };

export type Brain = (request: BrainRequest) => BrainOutput[];
