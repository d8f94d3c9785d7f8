import { randomUUID } from 'node:crypto';
import type { GraftEvent } from '../core/events.js';
import type { Delivery, DeliveryOutcome, EventStore, ModelClient } from '../core/ports.js';
import type { ConversationState } from '../core/state.js';
import type { EventSource, Graft, GraftOptions, ShutdownReport } from '../runtime/graft.js';
import { createGraft } from '../runtime/graft.js';
import type { ToolDefinition } from '../tools/define-tool.js';

/** The options every tenant's graft instance shares (the rest is per tenant). */
export type SharedGraftOptions = Omit<
  GraftOptions,
  'store' | 'model' | 'tools' | 'deliver' | 'tenantId' | 'onEvent' | 'onError'
>;

export interface TenantGraftsOptions {
  store: EventStore;
  model: ModelClient;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tool has its own argument type
  tools: readonly ToolDefinition<any>[];
  deliver: (delivery: Delivery) => Promise<DeliveryOutcome>;
  onEvent: (
    tenantId: string,
    conversationId: string,
    event: GraftEvent,
    state: ConversationState,
    source: EventSource,
  ) => void;
  onError: (error: unknown) => void;
  graft?: SharedGraftOptions;
}

/**
 * One graft instance per tenant, made when the tenant is first seen. They share the store, the
 * model, the tools and this process's instance id (conversations are tenant-scoped, so two
 * tenants' instances never touch the same conversation).
 */
export class TenantGrafts {
  private readonly grafts = new Map<string, Graft>();
  private readonly instanceId: string;

  constructor(private readonly options: TenantGraftsOptions) {
    this.instanceId = options.graft?.instanceId ?? `inst_${randomUUID()}`;
  }

  get(tenantId: string): Graft {
    let graft = this.grafts.get(tenantId);
    if (graft) return graft;
    const { store, model, tools, deliver, onEvent, onError } = this.options;
    graft = createGraft({
      ...this.options.graft,
      instanceId: this.instanceId,
      store,
      model,
      tools,
      tenantId,
      deliver,
      onEvent: (conversationId, event, state, source) =>
        onEvent(tenantId, conversationId, event, state, source),
      onError,
    });
    this.grafts.set(tenantId, graft);
    return graft;
  }

  /** Resumes every unfinished conversation of every tenant in the store (run at start). */
  async recover(): Promise<void> {
    const tenants = new Set((await this.options.store.unfinished()).map((k) => k.tenantId));
    await Promise.all([...tenants].map((tenantId) => this.get(tenantId).recover()));
  }

  /** Shuts every tenant's graft down gracefully, within one bound (see `Graft.shutdown`). */
  async shutdown(options?: { timeoutMs?: number }): Promise<ShutdownReport> {
    const reports = await Promise.all([...this.grafts.values()].map((g) => g.shutdown(options)));
    return {
      settled: reports.every((r) => r.settled),
      released: reports.reduce((sum, r) => sum + r.released, 0),
      running: reports.flatMap((r) => r.running),
    };
  }

  /** Resolves when no tenant's graft has work in flight. */
  async idle(): Promise<void> {
    await Promise.all([...this.grafts.values()].map((g) => g.idle()));
  }
}
