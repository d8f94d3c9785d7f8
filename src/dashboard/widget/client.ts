import { type SseMessage, SseParser } from '../sse.js';

/** A customer message as the widget's stream and transcript give it (src/server/widget.ts). */
export interface ChatMessage {
  id: string;
  text: string;
  at: string;
  seq: number;
}

/** A reply: the bot's, or a member of staff's. */
export interface ChatReply {
  id: string;
  text: string;
  covers: string[];
  from: 'bot' | 'staff';
  at: string;
  seq: number;
}

/**
 * Where the connection stands: `connecting` (the first time), `live`, `reconnecting` (after a
 * drop, with backoff), `ended` (the token was refused: expired and not renewable, or not valid).
 */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'ended';

export interface ChatHandlers {
  message(message: ChatMessage): void;
  reply(reply: ChatReply): void;
  typing(typing: boolean): void;
  connection(state: ConnectionState, detail?: string): void;
}

/** A token, or a function that fetches a fresh one from the shop's backend (called when one expires). */
export type TokenSource = string | (() => Promise<string>);

export interface ChatClientOptions {
  /** graft's base URL, ending in `/` (where widget.js is). */
  base: string;
  token: TokenSource;
  /** The first wait before a reconnect (it doubles, with jitter, up to `maxBackoffMs`). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A stream that says nothing for this long (the server pings every 15 s) is dropped and reopened. */
  idleMs?: number;
}

class Refused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener('online', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    // Back online: try at once rather than at the end of the backoff.
    window.addEventListener('online', done);
    signal.addEventListener('abort', done);
  });

/**
 * The widget's connection to graft: the customer's event stream (read with `fetch`, so that the
 * token goes in a header, never in a URL), reopened with backoff after a drop and resumed from the
 * last event id; and sending, each message with an id made here, so that a retry is de-duplicated.
 */
export class ChatClient {
  private lastEventId: string | null = null;
  private token: string | null = null;
  private readonly stopped = new AbortController();

  constructor(
    private readonly options: ChatClientOptions,
    private readonly on: ChatHandlers,
  ) {}

  /** Opens the stream and keeps it open until `stop()`. */
  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped.abort();
  }

  /** Sends a message; retries a failed try (same id) a few times; rejects when it gives up. */
  async send(id: string, text: string): Promise<void> {
    let delay = this.options.backoffMs ?? 500;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const response = await this.request('messages', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id, text }),
        });
        if (response.ok) return;
        const refusal = await refusalOf(response);
        // A client error will not change on a retry; a 429 or 5xx may.
        if (response.status !== 429 && response.status < 500) throw refusal;
        if (attempt >= 5) throw refusal;
      } catch (error) {
        if (error instanceof Refused || attempt >= 5 || this.stopped.signal.aborted) throw error;
      }
      await sleep(delay, this.stopped.signal);
      delay = Math.min(delay * 2, this.options.maxBackoffMs ?? 15_000);
    }
  }

  private async currentToken(renew = false): Promise<string> {
    const source = this.options.token;
    if (typeof source === 'string') return source;
    if (renew || this.token === null) this.token = await source();
    return this.token;
  }

  /** A request to a widget route; an expired token is renewed once when the source can. */
  private async request(path: string, init: RequestInit = {}, signal?: AbortSignal): Promise<Response> {
    for (let renew = false; ; renew = true) {
      const token = await this.currentToken(renew);
      const response = await fetch(new URL(`widget/v1/${path}`, this.options.base), {
        ...init,
        headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
        cache: 'no-store',
        signal: signal ?? this.stopped.signal,
      });
      if (response.status !== 401 || renew || typeof this.options.token === 'string') return response;
      const refusal = await refusalOf(response.clone());
      if (refusal.code !== 'token_expired') return response;
    }
  }

  private async run(): Promise<void> {
    const first = this.options.backoffMs ?? 500;
    let delay = first;
    let opened = false;
    while (!this.stopped.signal.aborted) {
      this.on.connection(opened ? 'reconnecting' : 'connecting');
      try {
        await this.stream(() => {
          opened = true;
          delay = first;
          this.on.connection('live');
        });
      } catch (error) {
        if (error instanceof Refused) {
          this.on.connection('ended', error.message);
          return;
        }
      }
      if (this.stopped.signal.aborted) return;
      this.on.connection('reconnecting');
      await sleep(delay * (0.5 + Math.random() / 2), this.stopped.signal);
      delay = Math.min(delay * 2, this.options.maxBackoffMs ?? 15_000);
    }
  }

  /** One connection: resolves when the server ends it, rejects when it drops or is refused. */
  private async stream(onOpen: () => void): Promise<void> {
    const connection = new AbortController();
    const stop = () => connection.abort();
    this.stopped.signal.addEventListener('abort', stop);
    let idle: ReturnType<typeof setTimeout> | undefined;
    const watch = () => {
      clearTimeout(idle);
      idle = setTimeout(stop, this.options.idleMs ?? 45_000);
    };
    try {
      watch();
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (this.lastEventId !== null) headers['last-event-id'] = this.lastEventId;
      const response = await this.request('events', { headers }, connection.signal);
      if (response.status === 401 || response.status === 403) throw await refusalOf(response);
      if (!response.ok || !response.body) throw new Error(`the stream answered ${response.status}`);
      onOpen();
      const parser = new SseParser((message) => this.dispatch(message));
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        watch();
        parser.feed(chunk.value);
      }
    } finally {
      clearTimeout(idle);
      this.stopped.signal.removeEventListener('abort', stop);
    }
  }

  private dispatch(message: SseMessage): void {
    if (message.id !== null) this.lastEventId = message.id;
    const data = JSON.parse(message.data) as unknown;
    if (message.event === 'message') this.on.message(data as ChatMessage);
    if (message.event === 'reply') this.on.reply(data as ChatReply);
    if (message.event === 'typing') this.on.typing((data as { typing: boolean }).typing);
  }
}

async function refusalOf(response: Response): Promise<Refused> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    return new Refused(body.error?.code ?? 'error', body.error?.message ?? `HTTP ${response.status}`);
  } catch {
    return new Refused('error', `HTTP ${response.status}`);
  }
}
