import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, invalidRequest, invalidValue, serverError } from './api-error.js';
import type { EmulatorEngine } from './engine.js';
import type { RunListener } from './run.js';
import type { StoredResponse } from './store.js';
import { isObject } from './validate-util.js';
import {
  acceptWebSocket,
  CLOSE,
  isWebSocketUpgrade,
  refuseUpgrade,
  type ServerWebSocket,
} from './websocket.js';
import type { StreamEvent } from './wire.js';

/**
 * The Responses API's WebSocket mode: a client opens `GET /v1/responses` as a WebSocket and sends
 * `response.create` events (the create body, plus `type`, an optional `stream_id` lane and an
 * optional `generate: false` warm-up); each response's stream events come back on the socket,
 * with the event's `stream_id` when the create named one. Creates on one lane run one after the
 * other, lanes run side by side. The connection remembers the most recent response of each lane,
 * so that a `store: false` response can be continued with `previous_response_id` on the same
 * connection (and only there). Failures are `error` events with an HTTP-like `status`.
 */

const STREAM_ID = /^[A-Za-z0-9_.-]{1,256}$/;
/** An `error` event as the WebSocket mode sends it (the spec's `ResponseWsError`). */
function errorEvent(error: ApiError, streamId: string | null): Record<string, unknown> {
  return {
    type: 'error',
    status: error.status,
    error: { type: error.type, code: error.code, message: error.message, param: error.param },
    ...(streamId === null ? {} : { stream_id: streamId }),
  };
}

interface CreateEvent {
  body: Record<string, unknown>;
  streamId: string | null;
  generate: boolean;
}

/** Reads a client message as a `response.create` event, or throws the API's 400. */
function parseClientEvent(text: string): CreateEvent {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest('The message is not valid JSON.', null, 'invalid_json');
  }
  if (!isObject(value)) throw invalidRequest('A client event must be a JSON object.', null, 'invalid_type');
  const { type, stream_id: streamId, generate, ...body } = value;
  if (type !== 'response.create') throw invalidValue('type', type, ['response.create']);
  if (streamId !== undefined && (typeof streamId !== 'string' || !STREAM_ID.test(streamId))) {
    throw invalidRequest(
      "Invalid 'stream_id': expected 1 to 256 letters, digits, '_', '.' or '-'.",
      'stream_id',
      'invalid_value',
    );
  }
  if (generate !== undefined && typeof generate !== 'boolean') {
    throw invalidRequest("Invalid type for 'generate': expected a boolean.", 'generate', 'invalid_type');
  }
  for (const key of ['stream', 'stream_options'] as const) {
    if (body[key] !== undefined) {
      throw invalidRequest(
        `'${key}' is implicit over WebSocket and must not be sent.`,
        key,
        'unknown_parameter',
      );
    }
  }
  if (body.background !== undefined) {
    throw invalidRequest(
      "'background' is not supported over WebSocket.",
      'background',
      'unsupported_parameter',
    );
  }
  return { body, streamId: typeof streamId === 'string' ? streamId : null, generate: generate !== false };
}

/** One WebSocket connection of the Responses API. */
class ResponsesSession {
  private readonly lanes = new Map<string, Promise<void>>();
  private readonly recent = new Map<string, StoredResponse>();
  private readonly running = new Set<{ stop: () => void }>();
  private readonly limit: NodeJS.Timeout;

  constructor(
    private readonly engine: EmulatorEngine,
    private readonly socket: ServerWebSocket,
    limitMs: number,
  ) {
    this.limit = setTimeout(() => this.expire(), limitMs);
    this.limit.unref();
  }

  onMessage(text: string): void {
    this.engine.stats.requests++;
    let event: CreateEvent;
    try {
      event = parseClientEvent(text);
    } catch (error) {
      this.sendError(error, null);
      return;
    }
    const lane = event.streamId ?? '';
    const previous = this.lanes.get(lane) ?? Promise.resolve();
    const next = previous.then(() => this.respond(event, lane));
    this.lanes.set(lane, next);
  }

  onClose(): void {
    clearTimeout(this.limit);
    for (const run of [...this.running]) run.stop();
  }

  private expire(): void {
    const minutes = Math.round(this.engine.options.webSocketLimitMs / 60_000);
    const error = invalidRequest(
      `Responses websocket connection limit reached (${minutes} minutes). Create a new websocket connection to continue.`,
      null,
      'websocket_connection_limit_reached',
    );
    this.sendError(error, null);
    this.socket.close(CLOSE.normal, 'connection limit reached');
  }

  private sendError(error: unknown, streamId: string | null): void {
    const apiError =
      error instanceof ApiError ? error : serverError(error instanceof Error ? error.message : String(error));
    this.socket.send(JSON.stringify(errorEvent(apiError, streamId)));
  }

  private lookup = (id: string): StoredResponse | undefined => {
    for (const record of this.recent.values()) if (record.response.id === id) return record;
    return undefined;
  };

  /** Creates one response and streams its events; resolves when it has ended. */
  private async respond(event: CreateEvent, lane: string): Promise<void> {
    if (!this.socket.open) return;
    let created;
    try {
      created = await this.engine.create(event.body, { lookup: this.lookup, generate: event.generate });
    } catch (error) {
      this.sendError(error, event.streamId);
      return;
    }
    const { record, run } = created;
    this.recent.set(lane, record);
    const { disconnectedStreamStatus } = this.engine.options.assumptions;
    const handle = {
      stop: () =>
        run.stop(disconnectedStreamStatus, 'The client disconnected before the response was complete.'),
    };
    this.running.add(handle);
    await new Promise<void>((resolve) => {
      const listener: RunListener = {
        event: (streamed) => this.socket.send(JSON.stringify(this.decorate(streamed, event.streamId))),
        end: () => {
          this.running.delete(handle);
          resolve();
        },
      };
      run.subscribe(listener);
      run.start();
    });
  }

  /** The lane's id on every event; a failure mid-stream carries the status of a server error. */
  private decorate(event: StreamEvent, streamId: string | null): Record<string, unknown> {
    return {
      ...event,
      ...(event.type === 'error' ? { status: 500 } : {}),
      ...(streamId === null ? {} : { stream_id: streamId }),
    };
  }
}

/**
 * The emulator's handler for HTTP upgrades: `GET /v1/responses` becomes a Responses WebSocket
 * session (with the API key checked first); any other upgrade is refused.
 */
export function createUpgradeHandler(engine: EmulatorEngine): {
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  closeAll: () => void;
} {
  const sockets = new Set<ServerWebSocket>();
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = new URL(req.url ?? '/', 'http://emulator').pathname;
    if (!isWebSocketUpgrade(req) || !/^\/v1\/responses\/?$/.test(path)) {
      refuseUpgrade(
        socket,
        404,
        new ApiError(404, `Invalid URL (GET ${path})`, 'invalid_request_error').envelope(),
      );
      return;
    }
    try {
      engine.authorize(req.headers.authorization);
    } catch (error) {
      const apiError = error as ApiError;
      refuseUpgrade(socket, apiError.status, apiError.envelope());
      return;
    }
    let session: ResponsesSession | null = null;
    const ws = acceptWebSocket(
      req,
      socket,
      head,
      {
        message: (text) => session?.onMessage(text),
        close: () => {
          sockets.delete(ws);
          session?.onClose();
        },
      },
      engine.options.maxBodyBytes,
    );
    session = new ResponsesSession(engine, ws, engine.options.webSocketLimitMs);
    sockets.add(ws);
  };
  const closeAll = (): void => {
    for (const ws of [...sockets]) ws.close(CLOSE.goingAway, 'server closing');
  };
  return { upgrade, closeAll };
}
