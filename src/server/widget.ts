/**
 * The web chat widget (docs/widget.md): a customer on a shop's own site talks to graft over HTTP
 * and server-sent events, authenticated by a per-customer token that the tenant's backend signed
 * (src/server/keys/widget-token.ts) — never by the tenant's API key. A customer sees only their own
 * conversation (`web:<customer>`), and of it only the messages, the replies and whether the bot is
 * typing: never effects, tool calls, attempts or notes.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { GraftEvent } from '../core/events.js';
import { type ConversationId, parseConversationId, parseTenantId, type TenantId } from '../core/ids.js';
import type { ConversationKey, EventStore } from '../core/ports.js';
import type { ConversationState } from '../core/state.js';
import { evolve, initialState } from '../core/state.js';
import type { AppDeps, AppEnv } from './app.js';
import { eventsHeaders, eventsQuery, parseInput, queryErrors } from './body.js';
import type { EventHub, HubMessage } from './event-hub.js';
import type { WidgetTokenClaims } from './keys/widget-token.js';
import {
  signWidgetToken,
  unverifiedWidgetClaims,
  verifyWidgetToken,
  WIDGET_CONVERSATION_PREFIX,
} from './keys/widget-token.js';

/** The widget's options on `createApp` (`AppDeps.widget`). */
export interface WidgetOptions {
  /**
   * Widget secrets by tenant, besides (and before) those in the key store (`graft keys create
   * --widget-secret`): the demo's, or a single-tenant set-up's from its environment.
   */
  secrets?: Record<string, string>;
  /**
   * Serves `GET /widget/demo`, which signs a token for a new customer of `tenant` (with its widget
   * secret) and opens the chat page with it. For demos only: whoever reaches it can chat.
   */
  demo?: { tenant: string; expiresInSeconds?: number };
  /** Where the widget's bundle is (default: `GRAFT_WIDGET_DIR`, else the package's dist/widget/). */
  dir?: string;
}

/** What the widget routes take from the app besides `AppDeps`. */
export interface WidgetRouteDeps {
  /**
   * Receives a customer message as `POST /v1/conversations/{id}/messages` does (validation, limits,
   * rate limit, de-duplication), with `metadata` in place of the body's.
   */
  accept: (
    c: Context<AppEnv>,
    conversationId: ConversationId,
    metadata: Record<string, unknown>,
  ) => Promise<Response>;
  heartbeatMs: number;
}

/** A customer message, as the customer sees it. */
export interface WidgetMessage {
  id: string;
  text: string;
  at: string;
  seq: number;
}

/** A reply, as the customer sees it: from the bot, or from a member of staff (after a takeover). */
export interface WidgetReply {
  id: string;
  text: string;
  /** The customer's message ids it answers. */
  covers: string[];
  from: 'bot' | 'staff';
  at: string;
  seq: number;
}

/** `GET /widget/v1/conversation`. */
export interface WidgetTranscript {
  conversationId: string;
  customer: string;
  /** The log position the transcript is at: pass it as `Last-Event-ID` to stream what follows. */
  seq: number;
  typing: boolean;
  messages: WidgetMessage[];
  replies: WidgetReply[];
}

type WidgetErrorCode = 'unauthorized' | 'invalid_token' | 'token_expired' | 'origin_not_allowed';

/** Who calls a widget route: the customer a verified token names. */
interface Customer {
  tenantId: TenantId;
  customer: string;
  conversationId: ConversationId;
}

/**
 * Whether the bot is "typing" in a conversation: a customer message is not yet answered by a
 * committed reply, or an attempt is live (a follow-up the bot writes on its own), and no person
 * has the conversation. Derived from the conversation, not from a branch: a superseded attempt
 * never shows, and a burst shows one indicator until the reply that covers it.
 */
export function typingOf(state: ConversationState): boolean {
  return (
    state.takenOver === null && (state.live !== null || state.messages.some((m) => m.coveredBy === null))
  );
}

const iso = (ms: number) => new Date(ms).toISOString();

/** What the customer sees of one event: a message, a reply, or nothing. */
function customerItem(
  event: GraftEvent,
): { kind: 'message'; item: WidgetMessage } | { kind: 'reply'; item: WidgetReply } | null {
  if (event.type === 'message.received')
    return {
      kind: 'message',
      item: { id: event.messageId, text: event.text, at: iso(event.at), seq: event.seq },
    };
  if (event.type === 'reply.committed')
    return {
      kind: 'reply',
      item: {
        id: event.replyId,
        text: event.text,
        covers: [...event.covers],
        from: event.kind === 'operator' ? 'staff' : 'bot',
        at: iso(event.at),
        seq: event.seq,
      },
    };
  return null;
}

/** The customer's transcript of a conversation's log. */
export function widgetTranscript(customer: Customer, events: readonly GraftEvent[]): WidgetTranscript {
  let state = initialState(customer.conversationId);
  const messages: WidgetMessage[] = [];
  const replies: WidgetReply[] = [];
  for (const event of events) {
    state = evolve(state, event);
    const seen = customerItem(event);
    if (seen?.kind === 'message') messages.push(seen.item);
    if (seen?.kind === 'reply') replies.push(seen.item);
  }
  return {
    conversationId: customer.conversationId,
    customer: customer.customer,
    seq: state.seq,
    typing: typingOf(state),
    messages,
    replies,
  };
}

/**
 * The customer's stream: `event: message` and `event: reply` (the transcript's items, `id: <seq>`),
 * and `event: typing` with `{typing}` — once at the start, then at each change (`id`: the seq it
 * holds at). From the log after `afterSeq`, then live, in order without gaps (a gap is read from
 * the store), as the tenant API's stream does.
 */
function customerStream(
  c: Context,
  options: { store: EventStore; key: ConversationKey; afterSeq: number; heartbeatMs: number },
  subscribe: (listener: (m: HubMessage) => void) => () => void,
): Response {
  return streamSSE(c, async (stream) => {
    const { store, key } = options;
    let state = initialState(key.conversationId);
    let typing: boolean | null = null;
    let chain: Promise<void> = Promise.resolve();
    const enqueue = (work: () => Promise<void>) => {
      chain = chain.then(work).catch(() => stream.abort());
    };
    const write = async (events: readonly GraftEvent[], silentUpTo: number) => {
      for (const event of events) {
        if (event.seq !== state.seq + 1) continue;
        state = evolve(state, event);
        const seen = event.seq > silentUpTo ? customerItem(event) : null;
        if (seen)
          await stream.writeSSE({ event: seen.kind, id: String(event.seq), data: JSON.stringify(seen.item) });
      }
      if (typingOf(state) === typing) return;
      typing = typingOf(state);
      await stream.writeSSE({ event: 'typing', id: String(state.seq), data: JSON.stringify({ typing }) });
    };
    const catchUp = async (silentUpTo: number) => write(await store.read(key, state.seq), silentUpTo);
    const unsubscribe = subscribe((message) => {
      if (message.kind === 'reply') return;
      const seq = message.kind === 'event' ? message.event.seq : message.seq;
      const event = message.kind === 'event' ? message.event : null;
      enqueue(async () => {
        if (seq <= state.seq) return;
        await (event && seq === state.seq + 1 ? write([event], 0) : catchUp(0));
      });
    });
    const heartbeat = setInterval(
      () => enqueue(async () => void (await stream.write(': ping\n\n'))),
      options.heartbeatMs,
    );
    // The log up to `afterSeq` (the client has it) is folded without being sent; a position past
    // the end of the log is the end of the log.
    enqueue(async () => {
      const events = await store.read(key, 0);
      await write(events, Math.min(options.afterSeq, events.at(-1)?.seq ?? 0));
    });
    await new Promise<void>((resolve) => stream.onAbort(resolve));
    clearInterval(heartbeat);
    unsubscribe();
  });
}

/** The widget's `Authorization: Bearer <token>` (a token is longer than an API key may be). */
function bearer(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S{1,4096})\s*$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

function refuse(c: Context, status: 401 | 403, code: WidgetErrorCode, message: string): Response {
  const headers: Record<string, string> =
    status === 401
      ? { 'www-authenticate': code === 'unauthorized' ? 'Bearer' : `Bearer error="invalid_token"` }
      : {};
  return c.json({ error: { code, message } }, status, headers);
}

/**
 * Whether a browser request may be answered: same-origin (or not from a browser page), or from an
 * origin the tenant lets call its widget. Sets the CORS headers for an allowed other origin.
 */
function originAllowed(c: Context, origins: readonly string[] | null | undefined): boolean {
  const origin = c.req.header('origin');
  c.header('vary', 'Origin');
  if (origin === undefined || c.req.header('sec-fetch-site') === 'same-origin') return true;
  const host = c.req.header('x-forwarded-host') ?? c.req.header('host');
  if (URL.canParse(origin) && new URL(origin).host === host) return true;
  if (!origins?.includes(origin)) return false;
  c.header('access-control-allow-origin', origin);
  return true;
}

/** The routes, mounted by `createApp` outside the `/v1` API-key middleware. */
export function widgetRoutes(
  app: Hono<AppEnv>,
  deps: AppDeps,
  options: WidgetOptions,
  route: WidgetRouteDeps,
): void {
  const secretOf = async (tenant: string) =>
    (Object.hasOwn(options.secrets ?? {}, tenant) ? options.secrets![tenant] : null) ??
    (await deps.auth.tenantSettings(tenant))?.widgetSecret ??
    null;

  /** The customer a request's token names, or the answer that refuses it. */
  const customerOf = async (c: Context<AppEnv>): Promise<Customer | Response> => {
    const token = bearer(c.req.header('authorization'));
    if (token === null)
      return refuse(c, 401, 'unauthorized', 'send a widget token as `Authorization: Bearer <token>`');
    // The origins of the tenant the token names, before its signature is checked: a page the
    // tenant allowed can then read why its token was refused (expired, say).
    const claimed = unverifiedWidgetClaims(token);
    const settings = claimed ? await deps.auth.tenantSettings(claimed.tenant) : null;
    if (!originAllowed(c, settings?.widgetOrigins)) {
      // The refusal itself is readable (it holds nothing), so that the page can say why.
      c.header('access-control-allow-origin', c.req.header('origin'));
      return refuse(
        c,
        403,
        'origin_not_allowed',
        `the tenant does not let ${c.req.header('origin')} use its web chat`,
      );
    }
    const checked = await verifyWidgetToken(token, secretOf, deps.now?.() ?? Date.now());
    if ('code' in checked) return refuse(c, 401, checked.code, checked.message);
    return customerFrom(c, checked);
  };

  app.options('/widget/v1/*', (c) => {
    // A preflight carries no token, so it cannot know the tenant: it lets the browser ask, and the
    // request itself is refused (403, before anything happens) from an origin the tenant did not allow.
    const origin = c.req.header('origin');
    return c.body(null, 204, {
      ...(origin ? { 'access-control-allow-origin': origin } : {}),
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'authorization, content-type, last-event-id',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
  });
  app.post('/widget/v1/messages', async (c) => {
    const who = await customerOf(c);
    if (who instanceof Response) return who;
    return route.accept(c, who.conversationId, { channel: 'web' });
  });
  app.get('/widget/v1/conversation', async (c) => {
    const who = await customerOf(c);
    if (who instanceof Response) return who;
    const events = await deps.store.read({ tenantId: who.tenantId, conversationId: who.conversationId }, 0);
    return c.json(widgetTranscript(who, events));
  });
  app.get('/widget/v1/events', async (c) => {
    const who = await customerOf(c);
    if (who instanceof Response) return who;
    const after =
      parseInput(eventsQuery, c.req.query(), queryErrors).after ??
      parseInput(eventsHeaders, { 'last-event-id': c.req.header('last-event-id') }, queryErrors)[
        'last-event-id'
      ];
    if (deps.hub.full)
      return c.json({ error: { code: 'rate_limited', message: 'too many open event streams' } }, 429, {
        'retry-after': '5',
      });
    const key = { tenantId: who.tenantId, conversationId: who.conversationId };
    return customerStream(
      c,
      { store: deps.store, key, afterSeq: after, heartbeatMs: route.heartbeatMs },
      (listener) => subscribeOrNothing(deps.hub, key, listener),
    );
  });
  assetRoutes(app, options);
  if (options.demo) demoRoute(app, options.demo, secretOf, deps.now);
}

function customerFrom(c: Context<AppEnv>, claims: WidgetTokenClaims): Customer {
  const tenantId = parseTenantId(claims.tenant);
  c.set('tenantId', tenantId);
  return {
    tenantId,
    customer: claims.customer,
    conversationId: parseConversationId(`${WIDGET_CONVERSATION_PREFIX}${claims.customer}`),
  };
}

const subscribeOrNothing = (hub: EventHub, key: ConversationKey, listener: (m: HubMessage) => void) =>
  hub.subscribe(key.tenantId, key.conversationId, listener) ?? (() => undefined);

/** `GET /widget/demo`: a token for a new customer, and the chat page with it (demos only). */
function demoRoute(
  app: Hono<AppEnv>,
  demo: NonNullable<WidgetOptions['demo']>,
  secretOf: (tenant: string) => Promise<string | null>,
  now: (() => number) | undefined,
): void {
  app.get('/widget/demo', async (c) => {
    const secret = await secretOf(demo.tenant);
    if (!secret)
      return c.json(
        { error: { code: 'not_found', message: `tenant '${demo.tenant}' has no widget secret` } },
        404,
      );
    const token = signWidgetToken(
      {
        tenant: demo.tenant,
        customer: `demo-${randomBytes(6).toString('base64url')}`,
        expiresInSeconds: demo.expiresInSeconds ?? 24 * 3600,
        ...(now ? { now: now() } : {}),
      },
      secret,
    );
    // In the fragment: it is not sent to servers, nor kept in their logs.
    return c.redirect(`/widget#token=${token}`, 302);
  });
}

/** The files of the widget's bundle (`npm run build` writes them to dist/widget/). */
const ASSETS = {
  'widget.js': 'text/javascript; charset=utf-8',
  'index.html': 'text/html; charset=utf-8',
} as const;

/**
 * The chat page loads only its own script and talks only to this service. It may be framed: an
 * iframe is the way to put the chat on another site without letting that site's origin call the
 * widget's routes (CORS).
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};
/** The script is loaded by other sites' pages. */
const SCRIPT_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cross-origin-resource-policy': 'cross-origin',
  'cache-control': 'no-cache',
};

/**
 * Where the bundle is: `dir`, else `GRAFT_WIDGET_DIR`, else dist/widget/ beside the compiled
 * service, or the repository's dist/widget/ when the service runs from its sources. Null when
 * that place holds no bundle.
 */
export function widgetDir(
  dir?: string,
  env: Record<string, string | undefined> = process.env,
): string | null {
  const given = dir ?? (env.GRAFT_WIDGET_DIR || undefined);
  const candidates =
    given !== undefined
      ? [given]
      : [
          fileURLToPath(new URL('../widget/', import.meta.url)),
          fileURLToPath(new URL('../../dist/widget/', import.meta.url)),
        ];
  return (
    candidates.find((d) => existsSync(join(d, 'widget.js')) && existsSync(join(d, 'index.html'))) ?? null
  );
}

function assetRoutes(app: Hono<AppEnv>, options: WidgetOptions): void {
  const serve = async (file: keyof typeof ASSETS): Promise<Response> => {
    const found = widgetDir(options.dir);
    if (found === null)
      return Response.json(
        {
          error: {
            code: 'not_found',
            message:
              'the web chat is not built: dist/widget/ has no bundle. Run `npm run build` (or set GRAFT_WIDGET_DIR to a built one)',
          },
        },
        { status: 404 },
      );
    const headers = file === 'widget.js' ? SCRIPT_HEADERS : PAGE_HEADERS;
    return new Response(await readFile(join(found, file)), {
      headers: { 'content-type': ASSETS[file], ...headers },
    });
  };
  app.get('/widget.js', () => serve('widget.js'));
  app.get('/widget', () => serve('index.html'));
}
