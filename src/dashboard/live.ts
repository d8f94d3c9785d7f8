import type { Api } from './api.js';
import { ApiFailure } from './api.js';

/** What the tenant's event stream says: a conversation grew (`seq`), or the stream (re)opened. */
export type LiveNotice = { kind: 'conversation'; conversationId: string; seq: number } | { kind: 'open' };

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

/**
 * The tenant's activity (`GET /v1/events`), read with `fetch` and kept open: reconnects with
 * backoff (0.5 s doubling to 10 s) when it drops. On every (re)open listeners get `open`: events
 * may have been missed meanwhile, so they read their data again.
 */
export class LiveFeed {
  private readonly listeners = new Set<(notice: LiveNotice) => void>();
  private readonly statusListeners = new Set<(status: LiveStatus) => void>();
  private controller: AbortController | null = null;
  status: LiveStatus = 'connecting';

  constructor(private readonly api: Api) {}

  subscribe(listener: (notice: LiveNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener: (status: LiveStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  start(): void {
    if (this.controller) return;
    const controller = new AbortController();
    this.controller = controller;
    void this.run(controller.signal);
  }

  stop(): void {
    this.controller?.abort();
    this.controller = null;
  }

  private setStatus(status: LiveStatus): void {
    this.status = status;
    for (const listener of [...this.statusListeners]) listener(status);
  }

  private emit(notice: LiveNotice): void {
    for (const listener of [...this.listeners]) listener(notice);
  }

  private async run(signal: AbortSignal): Promise<void> {
    let backoffMs = 500;
    while (!signal.aborted) {
      try {
        await this.api.stream(
          '/v1/events',
          (message) => {
            if (message.event !== 'conversation') return;
            const data = JSON.parse(message.data) as { conversationId: string; seq: number };
            this.emit({ kind: 'conversation', conversationId: data.conversationId, seq: data.seq });
          },
          signal,
          () => {
            backoffMs = 500;
            this.setStatus('live');
            this.emit({ kind: 'open' });
          },
        );
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiFailure && error.status === 401) {
          this.setStatus('unauthorized');
          return;
        }
      }
      if (signal.aborted) return;
      this.setStatus('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
      backoffMs = Math.min(10_000, backoffMs * 2);
    }
  }
}

/**
 * Runs `work` now, or, when a run is under way, once more after it: however many times it is
 * asked for meanwhile, at most one run waits. Keeps a burst of notices to one request at a time.
 */
export function coalesce(work: () => Promise<void>): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void work()
      .catch(() => undefined)
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          run();
        }
      });
  };
  return run;
}
