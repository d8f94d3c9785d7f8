import { Hono } from 'hono';
import type { Delivery, DeliveryOutcome, EventStore, ModelClient } from '../core/ports.js';
import type { ShutdownReport } from '../runtime/graft.js';
import type { Logger } from '../runtime/logger.js';
import type { ToolDefinition } from '../tools/define-tool.js';
import type { AppEnv, ServerLimits } from './app.js';
import { createApp, defaultServerLimits } from './app.js';
import { Authenticator } from './auth.js';
import { EventHub } from './event-hub.js';
import type { KeyStore } from './keys/key-store.js';
import type { WidgetOptions } from './widget.js';
import { Metrics } from './metrics.js';
import type { SharedGraftOptions } from './tenants.js';
import { TenantGrafts } from './tenants.js';
import type { WebhookTarget } from './webhook.js';
import { createWebhookDeliverer } from './webhook.js';

export interface ServiceOptions {
  store: EventStore;
  keys: KeyStore;
  model: ModelClient;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tool has its own argument type
  tools: readonly ToolDefinition<any>[];
  /** Options for every tenant's graft instance (model name, mode, limits, clock…). */
  graft?: SharedGraftOptions;
  /** The reply webhook of tenants that have none of their own. */
  webhook?: { url?: string | null; secret?: string | null; timeoutMs?: number };
  limits?: Partial<ServerLimits>;
  /** Keys accepted besides the key store's, as key text → tenant (the demo's `demo`). */
  staticKeys?: Record<string, string>;
  /** How long an authenticated key and a tenant's settings are cached (default 10 s). */
  authCacheMs?: number;
  sseHeartbeatMs?: number;
  fetch?: typeof fetch;
  /** Where background failures are reported (default: the logger, else one line on stderr). */
  onError?: (error: unknown) => void;
  /**
   * Where the service and every tenant's graft log (a pino logger fits): failed requests, model
   * call failures and retries, store failures, failed webhooks, fallback replies, conversations
   * that need a person. Silent without one.
   */
  logger?: Logger;
  /** Put customer messages and reply text in log records (default false). */
  logText?: boolean;
  /** The web dashboard at `/`: on by default; `{ dir }` serves the bundle in `dir`, `false` none. */
  dashboard?: { dir?: string } | false;
  /**
   * Chat SDK channels (`createGraftChannels` from `graft/channels`): their webhooks are mounted at
   * `POST /v1/channels/{name}` (and `GET`, for platforms that verify a webhook that way), without
   * an API key (each platform's own signature is checked); replies to their conversations are
   * posted back to the platform instead of the webhook. See docs/channels.md.
   */
  channels?: ChannelRouter;
  /** The web chat widget's options (docs/widget.md): extra widget secrets, the demo's page; `false`: none. */
  widget?: WidgetOptions | false;
}

/** What the service needs of `graft/channels`' `GraftChannels` (its type, without Chat SDK's). */
export interface ChannelRouter {
  readonly names: readonly string[];
  handle(name: string, request: Request): Promise<Response>;
  /** Posts the reply to its thread; null when the conversation is not a channel's. */
  deliver(delivery: Delivery): Promise<DeliveryOutcome | null>;
  close(): Promise<void>;
}

export interface Service {
  app: Hono<AppEnv>;
  tenants: TenantGrafts;
  hub: EventHub;
  metrics: Metrics;
  auth: Authenticator;
  /** Watches the store for other instances' appends and resumes unfinished conversations. */
  start(): Promise<void>;
  /** Resolves when no tenant has work in flight. */
  idle(): Promise<void>;
  /** Stops watching the store (the store itself is the caller's to close). */
  close(): Promise<void>;
  /**
   * Shuts down gracefully within `timeoutMs` (default 10 s): every tenant's graft refuses new
   * messages, hands its attempts off to other instances, tries its undelivered replies once more
   * and waits for its writes in flight (see `Graft.shutdown`); then stops as `close()` does. Stop
   * the HTTP listener from accepting first (`ListeningServer.stopAccepting`). The store is the
   * caller's to close.
   *
   * @example
   * server.stopAccepting();
   * const { settled } = await service.shutdown({ timeoutMs: 10_000 });
   * await server.close();
   * await store.close();
   */
  shutdown(options?: { timeoutMs?: number }): Promise<ShutdownReport>;
}

/** A tenant's own webhook (with its own secret), else the service's default. */
async function webhookTarget(
  auth: Authenticator,
  tenantId: string,
  defaults: ServiceOptions['webhook'],
): Promise<WebhookTarget | null> {
  const own = await auth.tenantSettings(tenantId);
  if (own?.webhookUrl) return { url: own.webhookUrl, secret: own.webhookSecret };
  return defaults?.url ? { url: defaults.url, secret: defaults.secret ?? null } : null;
}

const reportError = (error: unknown) =>
  console.error(`graft: ${error instanceof Error ? error.message : String(error)}`);

/**
 * The whole service: graft per tenant, reply webhooks, SSE fan-out, metrics and the HTTP app.
 *
 * @example
 * const service = createService({ store, keys, model, tools, webhook: { url: 'http://127.0.0.1:9000/replies' } });
 * await service.start();
 * const { url } = await listen(service.app, { port: 8787 });
 */
export function createService(options: ServiceOptions): Service {
  const limits = { ...defaultServerLimits, ...options.limits };
  const logger = options.logger;
  // With a logger, graft logs its background failures itself.
  const onError = options.onError ?? (logger ? () => undefined : reportError);
  const hub = new EventHub();
  const metrics = new Metrics();
  const auth = new Authenticator(options.keys, options.staticKeys, options.authCacheMs);
  metrics.gauge('graft_sse_subscribers', 'Open server-sent event streams.', () => hub.subscribers);
  const webhook = createWebhookDeliverer({
    target: (tenantId) => webhookTarget(auth, tenantId, options.webhook),
    ...(options.webhook?.timeoutMs ? { timeoutMs: options.webhook.timeoutMs } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const tenants = new TenantGrafts({
    store: options.store,
    model: options.model,
    tools: options.tools,
    graft: {
      ...options.graft,
      limits: { ...options.graft?.limits, messageChars: limits.messageChars },
      ...(logger ? { logger, logText: options.logText ?? false } : {}),
    },
    deliver: async (delivery) => {
      hub.publish(delivery.tenantId, delivery.conversationId, { kind: 'reply', delivery });
      try {
        return (await options.channels?.deliver(delivery)) ?? (await webhook(delivery));
      } catch (error) {
        metrics.inc(
          'graft_webhook_failures_total',
          'Reply webhook POSTs that failed (retried, then dead-lettered).',
          {
            tenant: delivery.tenantId,
          },
        );
        throw error;
      }
    },
    onEvent: (tenantId, conversationId, event, state, source) => {
      // Each instance counts the events it appended (summed over instances, each event counts
      // once); the live streams show every event, other instances' too.
      if (source === 'appended') metrics.observe(tenantId, event, state);
      hub.publish(tenantId, conversationId, { kind: 'event', event });
    },
    onError,
  });
  const api = createApp({
    store: options.store,
    auth,
    graftFor: (tenantId) => tenants.get(tenantId),
    hub,
    metrics,
    limits,
    onError: (error) => {
      logger?.error({ event: 'request.failed', err: error }, 'request failed');
      onError(error);
    },
    ...(options.sseHeartbeatMs ? { sseHeartbeatMs: options.sseHeartbeatMs } : {}),
    ...(options.dashboard !== undefined ? { dashboard: options.dashboard } : {}),
    ...(options.widget !== undefined ? { widget: options.widget } : {}),
  });
  const app = options.channels ? withChannels(api, options.channels, onError) : api;
  let unwatch: (() => Promise<void>) | null = null;
  return {
    app,
    tenants,
    hub,
    metrics,
    auth,
    async start() {
      if (options.store.watch && !unwatch) {
        unwatch = await options.store.watch((key, seq) =>
          hub.publish(key.tenantId, key.conversationId, { kind: 'poke', seq }),
        );
      }
      await tenants.recover();
    },
    idle: () => tenants.idle(),
    async close() {
      await unwatch?.();
      unwatch = null;
      await options.channels?.close();
    },
    async shutdown(shutdownOptions) {
      await unwatch?.();
      unwatch = null;
      const report = await tenants.shutdown(shutdownOptions);
      await options.channels?.close();
      return report;
    },
  };
}

/**
 * The channels' webhooks in front of the API: `/v1/channels/{name}` answers before the API's key
 * check (a platform cannot send a graft key; its adapter checks the platform's own signature).
 */
function withChannels(
  api: Hono<AppEnv>,
  channels: NonNullable<ServiceOptions['channels']>,
  onError: (error: unknown) => void,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError((error, c) => {
    onError(error);
    return c.json({ error: { code: 'internal', message: 'the channel webhook failed' } }, 500);
  });
  app.notFound((c) => api.fetch(c.req.raw));
  const route = (c: { req: { param(name: 'name'): string; raw: Request } }) =>
    channels.handle(c.req.param('name'), c.req.raw);
  app.post('/v1/channels/:name', route);
  app.get('/v1/channels/:name', route);
  app.route('/', api);
  return app;
}
