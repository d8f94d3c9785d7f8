import { GraftError } from './errors.js';
import type { FunctionToolSpec, InputItem, OutputItem, Usage } from './items.js';

/**
 * One model call, as the core builds it. `previousResponseId` set means chain mode (only the
 * delta is in `input`); null means stateless mode (the whole transcript is in `input`).
 */
export interface ModelRequest {
  model: string;
  instructions: string;
  input: InputItem[];
  previousResponseId: string | null;
  /** Chain mode stores responses (`store: true`); stateless mode does not. */
  store: boolean;
  tools: FunctionToolSpec[];
  /** For example `['reasoning.encrypted_content']` in stateless mode. */
  include: string[];
  /** graft's id of this call, for tracing and the simulator's checker; never sent to the API. */
  callId?: string;
}

export interface ModelResult {
  responseId: string;
  output: OutputItem[];
  usage: Usage;
  /** `incomplete` when the model stopped early (for example at `max_output_tokens`). */
  status: 'completed' | 'incomplete';
}

/**
 * The port to a Responses-API model. Implementations must not retry on their own (the runtime
 * retries, so that every call is counted and can be aborted) and must stop when `signal` aborts.
 * Failures are thrown as `RetryableError` (429, 5xx, timeouts), `ChainBrokenError` (the parent
 * response is gone: rebuild the request in stateless form) or `TerminalError`.
 */
export interface ModelClient {
  create(request: ModelRequest, options: { signal: AbortSignal }): Promise<ModelResult>;
}

/** The API answered `previous_response_not_found`: the request must be rebuilt in stateless form. */
export class ChainBrokenError extends GraftError {
  override readonly name = 'ChainBrokenError';
  readonly kind = 'retryable';
  readonly code = 'chain_broken';
}

/** The call was aborted (superseded, or past its time bound); `usage` bills what was generated. */
export class ModelCallAborted extends GraftError {
  override readonly name = 'ModelCallAborted';
  readonly kind = 'terminal';
  readonly code = 'model_call_aborted';
  constructor(readonly usage: Usage | null = null) {
    super('model call aborted');
  }
}
