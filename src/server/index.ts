/** graft's HTTP service: the app, the service that wires graft to it, keys, webhooks, views. */
export { createApp, defaultServerLimits } from './app.js';
export type { AppDeps, AppEnv, ServerLimits } from './app.js';
export { createService } from './service.js';
export type { Service, ServiceOptions } from './service.js';
export { listen } from './listen.js';
export type { ListeningServer } from './listen.js';
export { openServiceStore, storeSpecFromEnv } from './open-store.js';
export type { ServiceStore } from './open-store.js';
export { MemoryKeyStore, hashKey, parseTenantId } from './keys/key-store.js';
export type { ApiKeyRecord, KeyStore, TenantSettings } from './keys/key-store.js';
export { signWidgetToken, verifyWidgetToken } from './keys/widget-token.js';
export type { WidgetTokenClaims, WidgetTokenError } from './keys/widget-token.js';
export { typingOf, widgetTranscript } from './widget.js';
export type { WidgetMessage, WidgetOptions, WidgetReply, WidgetTranscript } from './widget.js';

export { SIGNATURE_HEADER, sign, verifySignature } from './signature.js';
export { createWebhookDeliverer, WebhookError } from './webhook.js';
export type { ReplyWebhookBody, WebhookTarget } from './webhook.js';
export { ApiError } from './errors.js';
export type { ErrorBody, ErrorCode } from './errors.js';
export { conversationView, conversationSummary, deadLetterView, queueEntry } from './view.js';
export type { ConversationView, ConversationSummary, DeadLetterView, QueueEntry } from './view.js';
export { renderConversationTree } from './view-tree.js';
export { Metrics } from './metrics.js';
export { EventHub } from './event-hub.js';
export { TenantGrafts } from './tenants.js';
