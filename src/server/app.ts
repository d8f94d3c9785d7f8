import type { Context } from 'hono';
import type { GraftEvent } from '../core/events.js';
import { Hono } from 'hono';
import { type ConversationId, parseTenantId, type TenantId } from '../core/ids.js';
import type { EventStore } from '../core/ports.js';
import type { Graft } from '../runtime/graft.js';
import type { Authenticator } from './auth.js';
import { bearerToken } from './auth.js';
import {
  approvalParam,
  callParam,
  callParamErrors,
  approvalParamErrors,
  conversationParam,
  conversationParamErrors,
  decisionBody,
  deliveryParam,
  effectParam,
  effectParamErrors,
  deliveryParamErrors,
  eventsHeaders,
  eventsQuery,
  jsonBody,
  limitQuery,
  listQuery,
  messageBody,
  messageBodyErrors,
  operatorBodyErrors,
  operatorMessageBody,
  parseInput,
  parseJsonObject,
  queryErrors,
  readBody,
  resolveBody,
  takeoverBody,
  validate,
} from './body.js';
import { dashboardRoutes } from './dashboard.js';
import { ApiError, errorBody, toApiError } from './errors.js';
import type { EventHub, HubListener } from './event-hub.js';
import type { Metrics } from './metrics.js';
import { RateLimiter } from './rate-limit.js';
import { SIGNATURE_HEADER, verifySignature } from './signature.js';
import { eventStream, tenantStream } from './sse.js';
import {
  conversationSummary,
  conversationView,
  deadLetterView,
  pendingApprovalView,
  queueEntry,
} from './view.js';
import type { EffectView } from './view.js';
import { modelCallDetail } from './view-call.js';
import type { WidgetOptions } from './widget.js';
import { widgetRoutes } from './widget.js';

/** The service's request limits. */
export interface ServerLimits {
  /** Largest accepted request body (413 `payload_too_large`). */
  bodyBytes: number;
  /** Longest accepted message text, in characters (413 `message_too_long`). */
  messageChars: number;
  /** Messages a conversation may send at once (429 `rate_limited` past it) … */
  burst: number;
  /** … and then per minute. */
  perMinute: number;
  /** Largest page of `GET /v1/conversations`. */
  pageSize: number;
}

export const defaultServerLimits: ServerLimits = {
  bodyBytes: 64 * 1024,
  messageChars: 8_000,
  burst: 20,
  perMinute: 60,
  pageSize: 100,
};

export interface AppDeps {
  store: EventStore;
  auth: Authenticator;
  /** The graft instance of a tenant. */
  graftFor: (tenantId: string) => Graft;
  hub: EventHub;
  metrics: Metrics;
  limits?: Partial<ServerLimits>;
  /** Seconds between SSE heartbeat comments. */
  sseHeartbeatMs?: number;
  now?: () => number;
  /** Failures that are the service's own (answered 500/503). */
  onError?: (error: unknown) => void;
  /**
   * The web dashboard at `/` (on by default): `dir` names a built bundle (see `dashboardDir`);
   * `false` serves none.
   */
  dashboard?: { dir?: string } | false;
  /**
   * The web chat widget (docs/widget.md): its routes under `/widget/v1/`, `/widget.js` and the
   * page `/widget` are on by default (a tenant's widget works once it has a widget secret);
   * `secrets` adds widget secrets by tenant, `demo` serves `GET /widget/demo`; `false` serves none.
   */
  widget?: WidgetOptions | false;
}

/** The Hono environment of the service's routes: `c.get('tenantId')` after authentication. */
export interface AppEnv {
  Variables: { tenantId: TenantId };
}

/**
 * The HTTP service over graft, as a Hono app (serve it with `@hono/node-server`, or call
 * `app.request()` in tests). Routes parse, call the library, and format.
 *
 * @example
 * const app = createApp({ store, auth, graftFor: (t) => tenants.get(t), hub, metrics });
 * const res = await app.request('/v1/conversations/c1/messages', { method: 'POST', headers, body });
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const limits = { ...defaultServerLimits, ...deps.limits };
  const rates = new RateLimiter({ burst: limits.burst, perMinute: limits.perMinute }, deps.now);
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    await next();
    deps.metrics.inc('graft_http_requests_total', 'HTTP requests answered.', {
      method: c.req.method,
      status: String(c.res.status),
    });
  });
  app.get('/healthz', async (c) => {
    try {
      await deps.store.conversations({ limit: 1 });
      return c.json({ status: 'ok' });
    } catch (error) {
      deps.onError?.(error);
      const answer = toApiError(error);
      // The store's own retry hint when it gave one, else a second: like any retryable failure.
      const retryAfter = answer.status === 503 ? answer.headers : { 'retry-after': '1' };
      return c.json(
        errorBody(new ApiError(503, 'unavailable', 'the store does not answer')),
        503,
        retryAfter,
      );
    }
  });
  app.get('/metrics', (c) =>
    c.text(deps.metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }),
  );
  app.use('/v1/*', async (c, next) => {
    const key = bearerToken(c.req.header('authorization'));
    const tenantId = key === null ? null : await deps.auth.tenantOf(key);
    if (tenantId === null) {
      const message =
        key === null ? 'send an API key as `Authorization: Bearer <key>`' : 'the API key is not valid';
      throw new ApiError(401, 'unauthorized', message, { 'www-authenticate': 'Bearer' });
    }
    c.set('tenantId', parseTenantId(tenantId));
    await next();
  });
  const param = validate('param', conversationParam, conversationParamErrors);
  app.post('/v1/conversations/:conversationId/messages', param, (c) =>
    receiveMessage(c, c.req.valid('param').conversationId, deps, limits, rates, { signed: true }),
  );
  app.get(
    '/v1/conversations/:conversationId/events',
    param,
    validate('query', eventsQuery, queryErrors),
    validate('header', eventsHeaders, queryErrors),
    (c) =>
      getEvents(
        c,
        c.req.valid('param').conversationId,
        c.req.valid('query').after ?? c.req.valid('header')['last-event-id'],
        deps,
      ),
  );
  app.get('/v1/conversations/:conversationId', param, async (c) => {
    const tenantId = c.get('tenantId');
    const { conversationId } = c.req.valid('param');
    const view = conversationView(
      tenantId,
      conversationId,
      await deps.store.read({ tenantId, conversationId }, 0),
    );
    if (!view) throw notFound(conversationId);
    return c.json(view);
  });
  app.get('/v1/conversations/:conversationId/summary', param, async (c) => {
    const tenantId = c.get('tenantId');
    const { conversationId } = c.req.valid('param');
    const events = await deps.store.read({ tenantId, conversationId }, 0);
    if (events.length === 0) throw notFound(conversationId);
    return c.json(conversationSummary(conversationId, events));
  });
  app.get(
    '/v1/conversations/:conversationId/calls/:callId',
    validate('param', callParam, callParamErrors),
    async (c) => {
      const tenantId = c.get('tenantId');
      const { conversationId, callId } = c.req.valid('param');
      const events = await deps.store.read({ tenantId, conversationId }, 0);
      if (events.length === 0) throw notFound(conversationId);
      const detail = modelCallDetail(tenantId, conversationId, events, callId);
      if (!detail)
        throw new ApiError(404, 'not_found', `no model call '${callId}' in conversation '${conversationId}'`);
      return c.json(detail);
    },
  );
  app.get('/v1/events', (c) => {
    if (deps.hub.full) throw tooManyStreams();
    const tenantId = c.get('tenantId');
    return tenantStream(
      c,
      deps.sseHeartbeatMs ?? 15_000,
      (listener) => deps.hub.subscribeTenant(tenantId, listener) ?? (() => undefined),
    );
  });
  app.get('/v1/conversations', validate('query', listQuery(limits.pageSize), queryErrors), (c) =>
    listConversations(c, c.req.valid('query'), deps),
  );
  app.get('/v1/queue', validate('query', listQuery(limits.pageSize), queryErrors), (c) =>
    listQueue(c, c.req.valid('query'), deps),
  );
  app.get('/v1/dead-letters', validate('query', limitQuery(limits.pageSize), queryErrors), async (c) => {
    const found = await deps.graftFor(c.get('tenantId')).deadLetters({ limit: c.req.valid('query').limit });
    return c.json({ deadLetters: found.map(deadLetterView) });
  });
  app.post(
    '/v1/dead-letters/:deliveryId/redeliver',
    validate('param', deliveryParam, deliveryParamErrors),
    async (c) => {
      const { deliveryId } = c.req.valid('param');
      const outcome = await deps.graftFor(c.get('tenantId')).redeliver(deliveryId);
      if (outcome === 'not-found')
        throw new ApiError(404, 'not_found', `no dead-lettered delivery '${deliveryId}'`);
      return c.json({ deliveryId, status: 'redelivering' }, 202);
    },
  );
  operatorRoutes(app, deps, limits);
  if (deps.widget !== false) {
    widgetRoutes(app, deps, deps.widget ?? {}, {
      accept: (c, conversationId, metadata) =>
        receiveMessage(c, conversationId, deps, limits, rates, { signed: false, metadata }),
      heartbeatMs: deps.sseHeartbeatMs ?? 15_000,
    });
  }
  if (deps.dashboard !== false) dashboardRoutes(app, deps.dashboard?.dir);
  app.notFound((c) =>
    c.json(errorBody(new ApiError(404, 'not_found', `no route ${c.req.method} ${c.req.path}`)), 404),
  );
  app.onError((error, c) => {
    const answer = toApiError(error);
    // A refusal on purpose is the client's business; a 5xx is the service's own failure.
    if (answer.status >= 500 && answer !== error) deps.onError?.(error);
    return c.json(errorBody(answer), answer.status, answer.headers);
  });
  return app;
}

/**
 * What a person does (docs/service.md, "Humans in the loop"): decide requests for approval, take a
 * conversation over, reply in it, hand it back. The library checks each act against the
 * conversation's state; what it refuses is answered by `toApiError` (404, 409, 400).
 */
function operatorRoutes(app: Hono<AppEnv>, deps: AppDeps, limits: ServerLimits): void {
  const param = validate('param', conversationParam, conversationParamErrors);
  app.get('/v1/approvals', validate('query', limitQuery(limits.pageSize), queryErrors), async (c) => {
    const found = await deps.graftFor(c.get('tenantId')).approvals({ limit: c.req.valid('query').limit });
    return c.json({ approvals: found.map(pendingApprovalView) });
  });
  app.post(
    '/v1/approvals/:approvalId',
    validate('param', approvalParam, approvalParamErrors),
    jsonBody(decisionBody, operatorBodyErrors, limits.bodyBytes),
    async (c) => {
      const { id, conversationId, effectId } = c.req.valid('param').approvalId;
      const { decision, note, operator } = c.req.valid('json');
      await deps.graftFor(c.get('tenantId')).decide(id, {
        decision,
        ...(note !== undefined ? { note } : {}),
        ...(operator !== undefined ? { operator } : {}),
      });
      // A decision is final: the ledger entry read now holds it, whatever ran since.
      return c.json({ id, conversationId, effect: await ledgerEntry(c, conversationId, effectId, deps) });
    },
  );
  app.post(
    '/v1/conversations/:conversationId/takeover',
    param,
    jsonBody(takeoverBody, operatorBodyErrors, limits.bodyBytes),
    async (c) => {
      const { conversationId } = c.req.valid('param');
      const { operator } = c.req.valid('json');
      await mustExist(c, conversationId, deps);
      await deps.graftFor(c.get('tenantId')).takeOver(conversationId, operator);
      return c.json({ conversationId, status: 'taken-over', operator });
    },
  );
  app.post(
    '/v1/conversations/:conversationId/operator-messages',
    param,
    jsonBody(operatorMessageBody(limits.messageChars), operatorBodyErrors, limits.bodyBytes),
    async (c) => {
      const { conversationId } = c.req.valid('param');
      await mustExist(c, conversationId, deps);
      const { replyId } = await deps
        .graftFor(c.get('tenantId'))
        .operatorReply(conversationId, c.req.valid('json').text);
      return c.json({ conversationId, replyId, status: 'committed' }, 202);
    },
  );
  app.post(
    '/v1/conversations/:conversationId/effects/:effectId/resolve',
    validate('param', effectParam, effectParamErrors),
    jsonBody(resolveBody, operatorBodyErrors, limits.bodyBytes),
    async (c) => {
      const { conversationId, effectId } = c.req.valid('param');
      const { outcome, note, operator } = c.req.valid('json');
      await mustExist(c, conversationId, deps);
      await deps.graftFor(c.get('tenantId')).resolveEffect(conversationId, effectId, {
        outcome,
        ...(note !== undefined ? { note } : {}),
        ...(operator !== undefined ? { operator } : {}),
      });
      return c.json({ conversationId, effect: await ledgerEntry(c, conversationId, effectId, deps) });
    },
  );
  app.post('/v1/conversations/:conversationId/release', param, async (c) => {
    const { conversationId } = c.req.valid('param');
    await mustExist(c, conversationId, deps);
    await deps.graftFor(c.get('tenantId')).release(conversationId);
    return c.json({ conversationId, status: 'released' });
  });
}

/** An effect as the conversation's ledger shows it now (read from the log, with its history). */
async function ledgerEntry(
  c: Context<AppEnv>,
  conversationId: ConversationId,
  effectId: string,
  deps: AppDeps,
): Promise<EffectView> {
  const tenantId = c.get('tenantId');
  const view = conversationView(
    tenantId,
    conversationId,
    await deps.store.read({ tenantId, conversationId }, 0),
  );
  const effect = view?.effects.find((e) => e.id === effectId);
  if (!effect)
    throw new ApiError(404, 'not_found', `no effect '${effectId}' in conversation '${conversationId}'`);
  return effect;
}

/**
 * Refuses an act on a conversation the tenant does not have (the library would start one: a
 * takeover is an event like any other).
 */
async function mustExist(c: Context<AppEnv>, conversationId: ConversationId, deps: AppDeps): Promise<void> {
  const events = await deps.store.read({ tenantId: c.get('tenantId'), conversationId }, 0);
  if (events.length === 0) throw notFound(conversationId);
}

const tooManyStreams = () =>
  new ApiError(429, 'rate_limited', 'too many open event streams; retry later', { 'retry-after': '5' });

const notFound = (conversationId: string) =>
  new ApiError(404, 'not_found', `no conversation '${conversationId}'`);

/**
 * A customer message: `POST /v1/conversations/{id}/messages` (`signed`: the tenant's inbound secret
 * applies), and the web chat's `POST /widget/v1/messages` (no signature: a browser cannot hold a
 * secret; its token was checked, and its `metadata` replaces the body's).
 */
async function receiveMessage(
  c: Context<AppEnv>,
  conversationId: ConversationId,
  deps: AppDeps,
  limits: ServerLimits,
  rates: RateLimiter,
  options: { signed: boolean; metadata?: Record<string, unknown> },
): Promise<Response> {
  const tenantId = c.get('tenantId');
  const raw = await readBody(c.req.raw, limits.bodyBytes);
  const settings = options.signed ? await deps.auth.tenantSettings(tenantId) : null;
  if (
    settings?.inboundSecret &&
    !verifySignature(settings.inboundSecret, raw, c.req.header(SIGNATURE_HEADER))
  ) {
    throw new ApiError(
      401,
      'invalid_signature',
      `${SIGNATURE_HEADER} is missing or is not the HMAC-SHA256 of the body`,
    );
  }
  // The body is read here, not by a json validator: the signature covers the raw bytes, and no
  // more than limits.bodyBytes of them are read, whatever the Content-Type says.
  const parsed = parseInput(messageBody(limits.messageChars), parseJsonObject(raw), messageBodyErrors);
  const { id, text } = parsed;
  const metadata = options.metadata ?? parsed.metadata;
  const waitMs = rates.take(`${tenantId}\u0000${conversationId}`);
  if (waitMs > 0) {
    throw new ApiError(
      429,
      'rate_limited',
      `too many messages in conversation '${conversationId}'; retry in ${Math.ceil(waitMs / 1000)} s`,
      {
        'retry-after': String(Math.ceil(waitMs / 1000)),
      },
    );
  }
  const graft = deps.graftFor(tenantId);
  const { status } = await graft.receive({
    conversationId,
    messageId: id,
    text,
    ...(metadata ? { metadata } : {}),
  });
  if (status === 'duplicate') {
    const earlier = (await graft.conversation(conversationId)).messageIndex.get(id);
    if (earlier && earlier.text !== text) {
      throw new ApiError(
        409,
        'message_id_conflict',
        `message '${id}' was already received with a different text`,
      );
    }
  }
  return c.json({ conversationId, messageId: id, status }, status === 'accepted' ? 202 : 200);
}

async function getEvents(
  c: Context<AppEnv>,
  conversationId: ConversationId,
  afterSeq: number,
  deps: AppDeps,
): Promise<Response> {
  const tenantId = c.get('tenantId');
  const key = { tenantId, conversationId };
  if ((await deps.store.read(key, 0)).length === 0) throw notFound(conversationId);
  if (deps.hub.full) throw tooManyStreams();
  const subscribe = (listener: HubListener) =>
    deps.hub.subscribe(tenantId, conversationId, listener) ?? (() => undefined);
  return eventStream(
    c,
    { store: deps.store, key, afterSeq, heartbeatMs: deps.sseHeartbeatMs ?? 15_000 },
    subscribe,
  );
}

/** A page of the tenant's conversations, each read whole, and the cursor of the next page. */
type PageQuery = { limit: number; cursor?: ConversationId | undefined };

async function conversationPage(
  c: Context<AppEnv>,
  { limit, cursor: after }: PageQuery,
  deps: AppDeps,
): Promise<{ logs: { conversationId: string; events: GraftEvent[] }[]; nextCursor: string | null }> {
  const keys = await deps.store.conversations({
    tenantId: c.get('tenantId'),
    limit,
    ...(after !== undefined ? { afterConversationId: after } : {}),
  });
  const logs = await Promise.all(
    keys.map(async (k) => ({ conversationId: k.conversationId, events: await deps.store.read(k, 0) })),
  );
  const last = keys.at(-1);
  const nextCursor =
    keys.length === limit && last ? Buffer.from(last.conversationId, 'utf8').toString('base64url') : null;
  return { logs, nextCursor };
}

async function listConversations(c: Context<AppEnv>, query: PageQuery, deps: AppDeps): Promise<Response> {
  const { logs, nextCursor } = await conversationPage(c, query, deps);
  const conversations = logs.map((l) => conversationSummary(l.conversationId, l.events));
  return c.json({ conversations, nextCursor });
}

/**
 * The queue for a person: the conversations of a page of the tenant's conversations (as
 * `GET /v1/conversations` pages them) that need one, with why. `nextCursor` scans on.
 */
async function listQueue(c: Context<AppEnv>, query: PageQuery, deps: AppDeps): Promise<Response> {
  const { logs, nextCursor } = await conversationPage(c, query, deps);
  const queue = logs.flatMap((l) => queueEntry(l.conversationId, l.events) ?? []);
  return c.json({ queue, nextCursor });
}
