import { DEFAULT_FALLBACK_TEXT } from '../core/config.js';
import type { InputItem } from '../core/items.js';
import { outputText } from '../core/items.js';
import type { ModelClient, ModelResult } from '../core/model-port.js';
import { ModelCallAborted } from '../core/model-port.js';
import type { ToolRunner } from '../core/ports.js';
import { RetryableError } from '../core/errors.js';
import type { FunctionToolSpec } from '../core/items.js';
import { ABORTED } from '../runtime/actor.js';
import type { VirtualClock } from './virtual-clock.js';

/** The strategies teams use today (see DESIGN.md), for comparison with graft. */
export type BaselineStrategy =
  'naive' | 'naive-abort' | 'debounce' | 'enqueue' | 'interrupt' | 'rollback' | 'steer' | 'burst';

export interface BaselineEnv {
  conversationId: string;
  clock: VirtualClock;
  model: ModelClient;
  tools: ToolRunner;
  toolSpecs: FunctionToolSpec[];
  instructions: string;
  modelName: string;
  modelTimeoutMs: number;
  /** `responseId`: the response that is the reply (null for a fallback). */
  deliver(reply: {
    text: string;
    covers: string[];
    kind: 'reply' | 'fallback';
    responseId: string | null;
  }): void;
}

interface Message {
  id: string;
  text: string;
}

/** Where an attempt starts: a response to chain from, and the input to send. */
interface Fork {
  previousResponseId: string | null;
  input: InputItem[];
}

interface Attempt {
  messages: Message[];
  fork: Fork;
  cancelled: boolean;
  controller: AbortController | null;
  /** The last completed response whose tools all settled, with their outputs (LangGraph's checkpoint). */
  checkpoint: Fork | null;
  /** `steer`: messages that arrived while the attempt ran, to be put into its next model call. */
  injected: Message[];
}

const DEBOUNCE_MS = 1_500;
/** `burst`: how long the first message of an idle thread waits (Chat SDK's `debounceMs`; the same 1.5 s as `debounce`). */
const BURST_WINDOW_MS = 1_500;
const MAX_CALLS_PER_ATTEMPT = 24;
const MAX_RETRIES = 4;

const userItem = (m: Message): InputItem => ({ type: 'message', role: 'user', content: m.text });
/** The baselines put no time bound on tools: their signal never fires. */
const NO_TOOL_BOUND = new AbortController().signal;

/**
 * A bot built the way the seed's team and today's frameworks build it, on the same model and
 * tools as graft. Tool calls run as soon as a response asks for them, with no gate and no
 * ledger; what differs between strategies is what happens when a message arrives mid-attempt.
 */
export class BaselineBot {
  private head: string | null = null;
  private unanswered: Message[] = [];
  private waiting: Message[] = [];
  private latest: Attempt | null = null;
  private running = 0;
  private debounceCancel: (() => void) | null = null;

  constructor(
    private readonly strategy: BaselineStrategy,
    private readonly env: BaselineEnv,
  ) {}

  /** True while an attempt is answering (a message now arrives "while an attempt is live"). */
  get live(): boolean {
    return this.running > 0 && this.latest !== null && !this.latest.cancelled;
  }

  receive(message: Message): void {
    this.unanswered.push(message);
    switch (this.strategy) {
      case 'naive':
        return this.start(this.fromHead(this.unanswered), this.unanswered);
      case 'naive-abort':
      case 'rollback':
        this.cancelLatest();
        return this.start(this.fromHead(this.unanswered), this.unanswered);
      case 'interrupt':
        return this.interrupt(message);
      case 'enqueue':
        this.waiting.push(message);
        if (!this.live) this.startWaiting();
        return;
      case 'debounce':
        this.waiting.push(message);
        if (!this.live) this.armDebounce();
        return;
      case 'steer':
        // No fork: the running attempt takes the message at its next model call.
        if (this.live) this.latest!.injected.push(message);
        else this.start(this.fromHead([message]), [message]);
        return;
      case 'burst':
        // Idle: the first message opens a window (not restarted by later ones); busy: queue.
        this.waiting.push(message);
        if (!this.live && this.debounceCancel === null) this.armBurstWindow();
        return;
    }
  }

  private fromHead(messages: readonly Message[]): Fork {
    return { previousResponseId: this.head, input: messages.map(userItem) };
  }

  private cancelLatest(): void {
    if (!this.latest) return;
    this.latest.cancelled = true;
    this.latest.controller?.abort(ABORTED);
  }

  private interrupt(message: Message): void {
    const old = this.latest;
    this.cancelLatest();
    if (!old || old.cancelled === false) return this.start(this.fromHead(this.unanswered), this.unanswered);
    const base = old.checkpoint ?? old.fork;
    this.start(
      { previousResponseId: base.previousResponseId, input: [...base.input, userItem(message)] },
      this.unanswered,
    );
  }

  private startWaiting(): void {
    const messages = this.waiting;
    this.waiting = [];
    if (messages.length > 0) this.start(this.fromHead(messages), messages);
  }

  private armDebounce(): void {
    this.debounceCancel?.();
    this.debounceCancel = this.env.clock.setTimer(this.env.clock.now() + DEBOUNCE_MS, () => {
      this.debounceCancel = null;
      if (!this.live) this.startWaiting();
    });
  }

  private armBurstWindow(): void {
    this.debounceCancel = this.env.clock.setTimer(this.env.clock.now() + BURST_WINDOW_MS, () => {
      this.debounceCancel = null;
      if (!this.live) this.startWaiting();
    });
  }

  /** `steer`: the messages injected since the last model call join the attempt and its next call's input. */
  private inject(attempt: Attempt, fork: Fork): Fork {
    if (attempt.injected.length === 0) return fork;
    const injected = attempt.injected;
    attempt.injected = [];
    attempt.messages.push(...injected);
    return { previousResponseId: fork.previousResponseId, input: [...fork.input, ...injected.map(userItem)] };
  }

  private start(fork: Fork, messages: readonly Message[]): void {
    const attempt: Attempt = {
      messages: [...messages],
      fork,
      cancelled: false,
      controller: null,
      checkpoint: null,
      injected: [],
    };
    if (this.latest && !this.latest.cancelled && this.strategy !== 'naive') this.cancelLatest();
    this.latest = attempt;
    this.running += 1;
    void this.run(attempt).finally(() => {
      this.running -= 1;
    });
  }

  private async run(attempt: Attempt): Promise<void> {
    let fork = attempt.fork;
    for (let calls = 0; calls < MAX_CALLS_PER_ATTEMPT; calls += 1) {
      if (attempt.cancelled && this.strategy !== 'naive') return;
      if (this.strategy === 'steer') fork = this.inject(attempt, fork);
      const result = await this.callWithRetries(attempt, fork);
      if (result === 'aborted') return;
      if (result === 'failed') return this.finish(attempt, DEFAULT_FALLBACK_TEXT, null, 'fallback');
      const calls = result.output.filter((i) => i.type === 'function_call');
      if (calls.length === 0)
        return this.finish(attempt, outputText(result.output), result.responseId, 'reply');
      if (attempt.cancelled && this.strategy !== 'naive') return;
      const outputs = await Promise.all(
        calls.map((call) => this.runTool(call.call_id, call.name, call.arguments)),
      );
      fork = { previousResponseId: result.responseId, input: outputs };
      attempt.checkpoint = fork;
    }
    this.finish(attempt, DEFAULT_FALLBACK_TEXT, null, 'fallback');
  }

  private async runTool(callId: string, name: string, args: string): Promise<InputItem> {
    const ctx = { tenantId: 'sim', conversationId: this.env.conversationId, turn: 0, messageIds: [] };
    const classified = this.env.tools.classify({ toolCallId: callId, name, arguments: args }, ctx);
    const output =
      classified.kind === 'invalid'
        ? JSON.stringify({ error: classified.error })
        : (
            await this.env.tools.run(
              { tool: name, arguments: args },
              {
                ...ctx,
                attemptId: '',
                toolCallId: callId,
                effectId: null,
                idempotencyKey: null,
                signal: NO_TOOL_BOUND,
              },
            )
          ).output;
    return { type: 'function_call_output', call_id: callId, output };
  }

  private async callWithRetries(attempt: Attempt, fork: Fork): Promise<ModelResult | 'aborted' | 'failed'> {
    const { clock, model } = this.env;
    for (let failures = 0; failures <= MAX_RETRIES; failures += 1) {
      if (attempt.cancelled && this.strategy !== 'naive') return 'aborted';
      const controller = new AbortController();
      attempt.controller = controller;
      let timedOut = false;
      const cancelTimeout = clock.setTimer(clock.now() + this.env.modelTimeoutMs, () => {
        timedOut = true;
        controller.abort(ABORTED);
      });
      try {
        return await model.create(
          {
            model: this.env.modelName,
            instructions: this.env.instructions,
            input: fork.input,
            previousResponseId: fork.previousResponseId,
            store: true,
            tools: this.env.toolSpecs,
            include: [],
          },
          { signal: controller.signal },
        );
      } catch (error) {
        if (error instanceof ModelCallAborted && !timedOut) return 'aborted';
        const retryAfter = error instanceof RetryableError ? (error.retryAfterMs ?? 0) : 0;
        await clock.sleep(Math.max(retryAfter, 250 * 2 ** failures));
      } finally {
        cancelTimeout();
      }
    }
    return 'failed';
  }

  private finish(
    attempt: Attempt,
    text: string,
    responseId: string | null,
    kind: 'reply' | 'fallback',
  ): void {
    if (attempt !== this.latest || (attempt.cancelled && this.strategy !== 'naive')) return;
    if (responseId !== null) this.head = responseId;
    const covered = new Set(attempt.messages.map((m) => m.id));
    this.unanswered = this.unanswered.filter((m) => !covered.has(m.id));
    this.env.deliver({ text, covers: [...covered], kind, responseId });
    this.latest = null;
    if (this.strategy === 'enqueue' || this.strategy === 'burst') this.startWaiting();
    // `steer`: messages that arrived during the last call missed it; the agent loop goes on with them.
    if (this.strategy === 'steer' && attempt.injected.length > 0)
      this.start(this.fromHead(attempt.injected), attempt.injected);
    if (this.strategy === 'debounce' && this.waiting.length > 0) this.armDebounce();
  }
}
