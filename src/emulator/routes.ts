import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, invalidRequest, serverError } from './api-error.js';
import type { EmulatorEngine } from './engine.js';
import type { ResponseRun } from './run.js';
import { openEventStream } from './sse.js';

type Handler = (ctx: RequestContext, id: string) => Promise<void> | void;

interface RequestContext {
  engine: EmulatorEngine;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  requestId: string;
}

const INVALID_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)";

const ROUTES: { method: string; pattern: RegExp; handler: Handler }[] = [
  { method: 'POST', pattern: /^\/v1\/responses\/?$/, handler: createResponse },
  { method: 'POST', pattern: /^\/v1\/responses\/compact\/?$/, handler: compactResponse },
  { method: 'GET', pattern: /^\/v1\/responses\/([^/]+)\/input_items\/?$/, handler: listInputItems },
  { method: 'POST', pattern: /^\/v1\/responses\/([^/]+)\/cancel\/?$/, handler: cancelResponse },
  { method: 'GET', pattern: /^\/v1\/responses\/([^/]+)\/?$/, handler: retrieveResponse },
  { method: 'DELETE', pattern: /^\/v1\/responses\/([^/]+)\/?$/, handler: deleteResponse },
];

function sendJson(
  ctx: RequestContext,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (ctx.res.headersSent || ctx.res.destroyed) return;
  const text = JSON.stringify(body);
  ctx.res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'x-request-id': ctx.requestId,
    ...headers,
  });
  ctx.res.end(text);
}

function sendError(ctx: RequestContext, error: unknown): void {
  const apiError =
    error instanceof ApiError ? error : serverError(error instanceof Error ? error.message : String(error));
  if (ctx.res.headersSent) {
    ctx.res.destroy();
    return;
  }
  sendJson(ctx, apiError.status, apiError.envelope(), apiError.headers);
}

async function readJson(ctx: RequestContext): Promise<unknown> {
  const limit = ctx.engine.options.maxBodyBytes;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit)
      throw new ApiError(
        413,
        `Request body too large: the limit is ${limit} bytes.`,
        'invalid_request_error',
      );
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw invalidRequest(INVALID_JSON);
  }
}

/**
 * Streams a run's events to the client. `startingAfter` replays the logged events after that
 * sequence number first. `onDisconnect` runs if the client leaves before the stream ends.
 */
function streamRun(
  ctx: RequestContext,
  run: ResponseRun,
  startingAfter: number,
  onDisconnect: () => void,
): void {
  const listener = openEventStream(ctx.res, { 'x-request-id': ctx.requestId });
  ctx.res.on('close', () => {
    if (ctx.res.writableFinished) return;
    run.unsubscribe(listener);
    onDisconnect();
  });
  run.subscribe(listener, startingAfter);
}

async function createResponse(ctx: RequestContext): Promise<void> {
  const body = await readJson(ctx);
  const { record, run, params } = await ctx.engine.create(body);
  const { assumptions } = ctx.engine.options;
  if (params.stream) {
    streamRun(ctx, run, -1, () => {
      if (!params.background)
        run.stop(
          assumptions.disconnectedStreamStatus,
          'The client disconnected before the response was complete.',
        );
    });
    run.start();
    return;
  }
  if (params.background) {
    run.start();
    sendJson(ctx, 200, record.response);
    return;
  }
  ctx.res.on('close', () => {
    if (!ctx.res.writableFinished && assumptions.disconnectedRequest === 'cancel') {
      run.stop(
        assumptions.disconnectedStreamStatus,
        'The client disconnected before the response was complete.',
      );
    }
  });
  run.start();
  await run.finished;
  const { response } = record;
  if (response.status === 'failed') throw serverError(response.error?.message);
  sendJson(ctx, 200, response);
}

async function compactResponse(ctx: RequestContext): Promise<void> {
  sendJson(ctx, 200, await ctx.engine.compact(await readJson(ctx)));
}

function retrieveResponse(ctx: RequestContext, id: string): void {
  const record = ctx.engine.retrieve(id);
  if (ctx.url.searchParams.get('stream') !== 'true') {
    sendJson(ctx, 200, record.response);
    return;
  }
  if (!record.response.background || !record.streamed || !record.run) {
    throw invalidRequest(
      'Only responses created with background=true and stream=true can be streamed.',
      'stream',
      'invalid_value',
    );
  }
  const after = ctx.url.searchParams.get('starting_after');
  const startingAfter = after === null ? -1 : Number(after);
  if (!Number.isInteger(startingAfter)) {
    throw invalidRequest(
      `Invalid 'starting_after': expected an integer, but got '${after}' instead.`,
      'starting_after',
      'invalid_type',
    );
  }
  streamRun(ctx, record.run, startingAfter, () => undefined);
}

function cancelResponse(ctx: RequestContext, id: string): void {
  sendJson(ctx, 200, ctx.engine.cancel(id));
}

function deleteResponse(ctx: RequestContext, id: string): void {
  sendJson(ctx, 200, ctx.engine.delete(id));
}

function listInputItems(ctx: RequestContext, id: string): void {
  const params = ctx.url.searchParams;
  sendJson(
    ctx,
    200,
    ctx.engine.listInputItems(id, {
      limit: params.get('limit'),
      order: params.get('order'),
      after: params.get('after'),
    }),
  );
}

async function route(ctx: RequestContext): Promise<void> {
  ctx.engine.authorize(ctx.req.headers.authorization);
  const method = ctx.req.method ?? 'GET';
  for (const { method: expected, pattern, handler } of ROUTES) {
    const match = pattern.exec(ctx.url.pathname);
    if (match && method === expected) return handler(ctx, decodeURIComponent(match[1] ?? ''));
  }
  throw new ApiError(404, `Invalid URL (${method} ${ctx.url.pathname})`, 'invalid_request_error');
}

/** The emulator's request handler for `node:http`. */
export function createRequestHandler(
  engine: EmulatorEngine,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    engine.stats.requests++;
    const ctx: RequestContext = {
      engine,
      req,
      res,
      url: new URL(req.url ?? '/', 'http://emulator'),
      requestId: engine.newRequestId(),
    };
    route(ctx).catch((error: unknown) => sendError(ctx, error));
  };
}
