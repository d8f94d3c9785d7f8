import type { ConversationSummary, ConversationView, EffectView, ModelCallDetail } from '../server/view.js';
import type { SseMessage } from './sse.js';
import { SseParser } from './sse.js';

/** A refusal or failure of the HTTP API, with the API's code and message. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A request for approval, as `GET /v1/approvals` lists it. */
export interface PendingApproval {
  id: string;
  conversationId: string;
  effectId: string;
  tool: string;
  arguments: unknown;
  since: string;
  expiresAt: string;
}

/** An order of the demo shop (`GET /v1/demo/orders`). */
export interface DemoOrder {
  orderId: string;
  conversationId: string;
  items: { product: string; quantity: number }[];
  status: string;
  createdAt: string | null;
}

const KEY_STORAGE = 'graft.apiKey';

/** The API key of this browser tab: kept in session storage, so it is gone when the tab closes. */
export const savedKey = {
  get: (): string | null => sessionStorage.getItem(KEY_STORAGE),
  set: (key: string): void => sessionStorage.setItem(KEY_STORAGE, key),
  clear: (): void => sessionStorage.removeItem(KEY_STORAGE),
};

const path = (...parts: string[]): string => parts.map(encodeURIComponent).join('/');

/** A client of graft's public HTTP API (docs/service.md), authenticated with a tenant's key. */
export class Api {
  constructor(
    readonly key: string,
    private readonly base = '',
  ) {}

  private async request<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${url}`, {
        method,
        headers: {
          authorization: `Bearer ${this.key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch {
      throw new ApiFailure(0, 'network', 'the service does not answer');
    }
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = null;
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
      throw new ApiFailure(
        response.status,
        error?.code ?? 'http_error',
        error?.message ?? `${response.status} ${response.statusText}`,
      );
    }
    return json as T;
  }

  conversations(
    cursor: string | null,
  ): Promise<{ conversations: ConversationSummary[]; nextCursor: string | null }> {
    return this.request(
      'GET',
      `/v1/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
  }

  summary(id: string): Promise<ConversationSummary> {
    return this.request('GET', `/v1/conversations/${path(id)}/summary`);
  }

  conversation(id: string): Promise<ConversationView> {
    return this.request('GET', `/v1/conversations/${path(id)}`);
  }

  call(id: string, callId: string): Promise<ModelCallDetail> {
    return this.request('GET', `/v1/conversations/${path(id, 'calls', callId)}`);
  }

  send(id: string, messageId: string, text: string): Promise<{ status: string }> {
    return this.request('POST', `/v1/conversations/${path(id)}/messages`, { id: messageId, text });
  }

  approvals(): Promise<{ approvals: PendingApproval[] }> {
    return this.request('GET', '/v1/approvals');
  }

  decide(
    approvalId: string,
    decision: 'approve' | 'reject',
    operator: string,
    note: string,
  ): Promise<unknown> {
    return this.request('POST', `/v1/approvals/${path(approvalId)}`, {
      decision,
      operator,
      ...(note ? { note } : {}),
    });
  }

  takeOver(id: string, operator: string): Promise<unknown> {
    return this.request('POST', `/v1/conversations/${path(id)}/takeover`, { operator });
  }

  release(id: string): Promise<unknown> {
    return this.request('POST', `/v1/conversations/${path(id)}/release`);
  }

  operatorMessage(id: string, text: string): Promise<unknown> {
    return this.request('POST', `/v1/conversations/${path(id)}/operator-messages`, { text });
  }

  resolve(
    id: string,
    effectId: string,
    outcome: 'done' | 'failed',
    operator: string,
    note: string,
  ): Promise<{ effect: EffectView }> {
    return this.request('POST', `/v1/conversations/${path(id, 'effects', effectId)}/resolve`, {
      outcome,
      operator,
      ...(note ? { note } : {}),
    });
  }

  /** The demo's orders, or null when this service is not the demo. */
  async demoOrders(): Promise<DemoOrder[] | null> {
    try {
      return (await this.request<{ orders: DemoOrder[] }>('GET', '/v1/demo/orders')).orders;
    } catch (error) {
      if (error instanceof ApiFailure && error.status === 404) return null;
      throw error;
    }
  }

  /**
   * Reads a server-sent event stream with `fetch` (a browser's `EventSource` cannot send the
   * `Authorization` header) until `signal` aborts or the stream ends; `onOpen` once the answer's
   * headers arrived. Rejects with `ApiFailure` for a refused stream.
   */
  async stream(
    url: string,
    onMessage: (message: SseMessage) => void,
    signal: AbortSignal,
    onOpen?: () => void,
  ): Promise<void> {
    const response = await fetch(`${this.base}${url}`, {
      headers: { authorization: `Bearer ${this.key}`, accept: 'text/event-stream' },
      signal,
      cache: 'no-store',
    });
    if (!response.ok || !response.body) {
      const body = (await response.json().catch(() => null)) as {
        error?: { code?: string; message?: string };
      } | null;
      throw new ApiFailure(
        response.status,
        body?.error?.code ?? 'http_error',
        body?.error?.message ?? 'stream refused',
      );
    }
    onOpen?.();
    const parser = new SseParser(onMessage);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  }
}
