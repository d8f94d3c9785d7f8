import OpenAI from 'openai';
import type { Response, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { RetryableError } from '../../core/errors.js';
import {
  ModelCallAborted,
  type ModelClient,
  type ModelRequest,
  type ModelResult,
} from '../../core/model-port.js';
import { classifyError, streamFailure } from './errors.js';
import { toCreateParams, toModelResult } from './mapping.js';

export interface OpenAIModelClientOptions {
  /** Defaults to `OPENAI_API_KEY`. Any non-empty string for an emulator started without a key. */
  apiKey?: string;
  /** Defaults to `OPENAI_BASE_URL`, else the OpenAI API. For the emulator: `http://127.0.0.1:8790/v1`. */
  baseURL?: string;
  /** When set, every call uses this model whatever the request names (e.g. a compatible server's model). */
  model?: string;
  /** Time allowed until the answer's headers arrive. */
  timeoutMs?: number;
  /** Longest silence allowed between two stream events before the call is given up as retryable. */
  idleTimeoutMs?: number;
  /** A ready SDK client (its own retry setting is overridden: every request is sent with `maxRetries: 0`). */
  client?: OpenAI;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** The options from the environment: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_MODEL`. */
export function openAIOptionsFromEnv(
  env: Record<string, string | undefined> = process.env,
): OpenAIModelClientOptions {
  return {
    ...(env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY } : {}),
    ...(env.OPENAI_BASE_URL ? { baseURL: env.OPENAI_BASE_URL } : {}),
    ...(env.OPENAI_MODEL ? { model: env.OPENAI_MODEL } : {}),
  };
}

/**
 * The `ModelClient` port over the official `openai` SDK and the Responses API. Every call streams
 * (so that aborting `signal` closes the connection and the server stops generating), the SDK's
 * own retries are off (graft's runtime retries, so every call is counted), and failures are thrown
 * classified: `RetryableError`, `ChainBrokenError`, `TerminalError`, or `ModelCallAborted`.
 *
 * @example
 * const model = new OpenAIModelClient({ apiKey: 'unused', baseURL: 'http://127.0.0.1:8790/v1' });
 * const result = await model.create(request, { signal: AbortSignal.timeout(30_000) });
 */
export class OpenAIModelClient implements ModelClient {
  private readonly client: OpenAI;
  private readonly timeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(private readonly options: OpenAIModelClientOptions = {}) {
    this.client =
      options.client ?? new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0 });
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  }

  async create(request: ModelRequest, { signal }: { signal: AbortSignal }): Promise<ModelResult> {
    if (signal.aborted) throw new ModelCallAborted();
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    signal.addEventListener('abort', abort, { once: true });
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    const touch = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        controller.abort();
      }, this.idleTimeoutMs);
    };
    try {
      touch();
      const params = toCreateParams(request, this.options.model ?? request.model);
      const stream = await this.client.responses.create(params, {
        signal: controller.signal,
        timeout: this.timeoutMs,
        maxRetries: 0,
      });
      const final = await this.finalResponse(stream, touch);
      if (signal.aborted) throw new ModelCallAborted();
      if (idle) throw this.idleError();
      if (!final)
        throw new RetryableError('The stream ended before the response was completed.', null, 'stream_ended');
      return toModelResult(final);
    } catch (error) {
      if (signal.aborted) throw new ModelCallAborted();
      if (idle) throw this.idleError();
      throw classifyError(error);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
    }
  }

  /** Reads the stream to its terminal event; null if it ended without one (aborted or cut). */
  private async finalResponse(
    stream: AsyncIterable<ResponseStreamEvent>,
    touch: () => void,
  ): Promise<Response | null> {
    for await (const event of stream) {
      touch();
      switch (event.type) {
        case 'response.completed':
        case 'response.incomplete':
          return event.response;
        case 'response.failed':
          throw streamFailure(
            event.response.error?.code,
            event.response.error?.message ?? 'The response failed.',
          );
        case 'error':
          throw streamFailure(event.code, event.message);
        default:
          break;
      }
    }
    return null;
  }

  private idleError(): RetryableError {
    return new RetryableError(`No stream event arrived for ${this.idleTimeoutMs} ms.`, null, 'timeout');
  }
}
