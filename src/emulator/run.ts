import type { Brain, BrainRequest } from '../core/brain.js';
import { generateOutput, outputSteps, type GeneratedOutput, type GenerationSettings } from './generation.js';
import type { LatencyProfile } from './options.js';
import type { IdSource } from './rng.js';
import { applyEvent } from './snapshot.js';
import type { ResponseObject, ResponseStatus, StreamEvent, UnsequencedEvent } from './wire.js';

/** Receives a response's stream events as they are emitted, then `end()` once. */
export interface RunListener {
  event(event: StreamEvent): void;
  end(): void;
}

export interface RunSettings {
  brain: Brain;
  brainRequest: BrainRequest;
  generation: GenerationSettings;
  latency: LatencyProfile;
  ids: IdSource;
  now: () => number;
  /** Input tokens of the context and the part of them served from the prompt cache. */
  inputTokens: number;
  cachedTokens: number;
  /** Keep every event so that the response can be streamed again (`GET …?stream=true`). */
  keepLog: boolean;
  stallMs: number;
  midStreamError: boolean;
  /** Called once when the run ends, whatever the outcome. */
  onEnd: () => void;
}

const SERVER_ERROR = 'The server had an error while processing your request. Sorry about that!';

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * One generation: it moves the response through queued → in_progress → a terminal status,
 * emits the stream events in the API's order with `sequence_number` from 0, and keeps the stored
 * response's output in step with them. It stops early when cancelled or when its client leaves.
 */
export class ResponseRun {
  readonly log: StreamEvent[] = [];
  readonly finished: Promise<void>;
  private sequence = 0;
  private ended = false;
  private readonly listeners = new Set<RunListener>();
  private readonly controller = new AbortController();
  private resolveFinished: () => void = () => undefined;

  constructor(
    readonly response: ResponseObject,
    private readonly settings: RunSettings,
  ) {
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Starts generating. With zero latency a non-background run finishes before this returns. */
  start(): void {
    this.execute().catch((error: unknown) =>
      this.fail(error instanceof Error ? error.message : String(error)),
    );
  }

  /** Sends the logged events after `startingAfter`, then every new one; ends at once if the run has. */
  subscribe(listener: RunListener, startingAfter = -1): void {
    for (const event of this.log) if (event.sequence_number > startingAfter) listener.event(event);
    if (this.ended) listener.end();
    else this.listeners.add(listener);
  }

  unsubscribe(listener: RunListener): void {
    this.listeners.delete(listener);
  }

  /** Stops the generation where it is and gives the response `status`. False if it had already ended. */
  stop(status: Extract<ResponseStatus, 'cancelled' | 'incomplete' | 'failed'>, message?: string): boolean {
    if (this.ended) return false;
    this.controller.abort();
    this.response.status = status;
    if (status === 'failed') this.response.error = { code: 'server_error', message: message ?? SERVER_ERROR };
    this.end();
    return true;
  }

  private async execute(): Promise<void> {
    const { settings, response } = this;
    const signal = this.controller.signal;
    if (response.background) {
      this.emitResponse('response.created');
      this.emitResponse('response.queued');
      if (!(await sleep(0, signal))) return;
      response.status = 'in_progress';
    } else {
      this.emitResponse('response.created');
    }
    this.emitResponse('response.in_progress');
    const output = generateOutput(settings.brain(settings.brainRequest), settings.generation, settings.ids);
    const steps = outputSteps(output, settings.latency, settings.stallMs);
    if (steps.length === 0) {
      const leadMs = settings.latency.ttftMs + settings.stallMs;
      if (leadMs > 0 && !(await sleep(leadMs, signal))) return;
    }
    for (const step of steps) {
      if (step.delayMs > 0 && !(await sleep(step.delayMs, signal))) return;
      if (this.ended) return;
      this.emit(step.event);
      if (step.firstDelta && settings.midStreamError) return this.fail(SERVER_ERROR);
    }
    if (!this.ended) this.complete(output);
  }

  private complete(output: GeneratedOutput): void {
    const { response, settings } = this;
    response.output = output.items;
    response.status = output.incomplete ? 'incomplete' : 'completed';
    response.incomplete_details = output.incomplete ? { reason: 'max_output_tokens' } : null;
    response.completed_at = output.incomplete ? null : Math.floor(settings.now() / 1000);
    const outputTokens = output.outputTokens + output.reasoningTokens;
    response.usage = {
      input_tokens: settings.inputTokens,
      input_tokens_details: {
        cached_tokens: settings.cachedTokens,
        cache_write_tokens: settings.inputTokens - settings.cachedTokens,
      },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: output.reasoningTokens },
      total_tokens: settings.inputTokens + outputTokens,
    };
    this.emitResponse(output.incomplete ? 'response.incomplete' : 'response.completed');
    this.end();
  }

  /** Fails the response: an `error` event (in both the spec's and the observed shape), then `response.failed`. */
  private fail(message: string): void {
    if (this.ended) return;
    this.response.status = 'failed';
    this.response.error = { code: 'server_error', message };
    const error = { type: 'server_error', code: 'server_error', message, param: null };
    this.emit({ type: 'error', code: 'server_error', message, param: null, error });
    this.emitResponse('response.failed');
    this.end();
  }

  private get observed(): boolean {
    return this.listeners.size > 0 || this.settings.keepLog;
  }

  private emitResponse(type: string): void {
    // Cloning the response is the costly part of an event: skip it when nobody can see the event.
    if (!this.observed) {
      this.sequence++;
      return;
    }
    this.emit({ type, response: structuredClone(this.response) });
  }

  private emit(event: UnsequencedEvent): void {
    applyEvent(this.response, event);
    const { type, ...fields } = event;
    const sequenced: StreamEvent = { type, sequence_number: this.sequence++, ...fields };
    if (this.settings.keepLog) this.log.push(sequenced);
    for (const listener of this.listeners) listener.event(sequenced);
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener.end();
    this.settings.onEnd();
    this.resolveFinished();
  }
}
