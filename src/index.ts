/**
 * `graft`: effect-safe conversation branches for bots on the OpenAI Responses API — the core,
 * the runtime, the tool contract, the stores (`openStore`; the adapters are `graft/sqlite` and
 * `graft/postgres`) and the OpenAI model client. The HTTP service is `graft/service`.
 */
export { createGraft, ShuttingDownError } from './runtime/graft.js';
export type { EventSource, Graft, GraftOptions, InboundMessage } from './runtime/graft.js';
export type { DeadLetter } from './runtime/dead-letters.js';
export type { PendingApproval } from './runtime/approvals.js';
export { OperatorError } from './core/operator.js';
export type { Decision, OperatorErrorCode } from './core/operator.js';
export type { Logger } from './runtime/logger.js';
export { DEFAULT_APPROVAL_TIMEOUT_MS, defineTool, ToolRejection } from './tools/define-tool.js';
export type {
  ApprovalPredicate,
  KeyContext,
  Reconciliation,
  ToolContext,
  ToolDefinition,
} from './tools/define-tool.js';
export { MemoryStore } from './store/memory/memory-store.js';
export { DEFAULT_STORE_SPEC, openStore, parseStoreSpec } from './store/open.js';
export type { GraftStore, OpenStoreOptions, StoreKind, StoreSpec } from './store/open.js';
export type { PostgresSettings } from './store/postgres/settings.js';
export type {
  Clock,
  ConversationKey,
  Deliverer,
  Delivery,
  DeliveryBounds,
  DeliveryOutcome,
  EventStore,
  ModelClient,
  ModelRequest,
  ModelResult,
} from './core/ports.js';
export {
  ConflictError,
  DuplicateMessageError,
  IdempotencyConflictError,
  defaultDeliveryBounds,
} from './core/ports.js';
export { ChainBrokenError, ModelCallAborted } from './core/model-port.js';
export {
  GraftError,
  InvalidInputError,
  InvariantViolation,
  RetryableError,
  TerminalError,
} from './core/errors.js';
export type { ErrorKind } from './core/errors.js';
export type { GraftEvent, EventBody } from './core/events.js';
export type { ConversationState } from './core/state.js';
export { coreConfig, defaultLimits } from './core/config.js';
export type { Limits } from './core/config.js';
export { OpenAIModelClient, openAIOptionsFromEnv } from './model/openai/index.js';
export type { OpenAIModelClientOptions } from './model/openai/index.js';
export { BrainModel } from './model/brain-model.js';
export { createScriptedBrain, say, callTool } from './model/scripted-brain.js';
export type { Brain, BrainOutput, BrainRequest } from './core/brain.js';
