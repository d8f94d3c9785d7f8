import type { GraftEvent } from '../core/events.js';
import type { Delivery } from '../core/ports.js';

/** What a conversation's subscribers (the SSE streams) are told. */
export type HubMessage =
  | { kind: 'event'; event: GraftEvent }
  | { kind: 'reply'; delivery: Delivery }
  /** Another instance appended up to `seq`: read the log from the store. */
  | { kind: 'poke'; seq: number };

export type HubListener = (message: HubMessage) => void;
export type TenantListener = (conversationId: string, message: HubMessage) => void;

const keyOf = (tenantId: string, conversationId: string) => `${tenantId}\u0000${conversationId}`;

/**
 * Fans a conversation's events out to its live subscribers. Fed by graft's `onEvent` (events this
 * process folds), by delivery (replies), and by the store's `watch` (appends of other instances).
 */
export class EventHub {
  private readonly listeners = new Map<string, Set<HubListener>>();
  /** Listeners to every conversation of a tenant (the tenant's event stream), by tenant. */
  private readonly tenantListeners = new Map<string, Set<TenantListener>>();
  private count = 0;

  constructor(private readonly maxSubscribers = 10_000) {}

  get subscribers(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.maxSubscribers;
  }

  /** Subscribes to one conversation; returns the unsubscribe function, or null when full. */
  subscribe(tenantId: string, conversationId: string, listener: HubListener): (() => void) | null {
    if (this.count >= this.maxSubscribers) return null;
    const key = keyOf(tenantId, conversationId);
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    this.count += 1;
    return () => {
      if (!set.delete(listener)) return;
      this.count -= 1;
      if (set.size === 0) this.listeners.delete(key);
    };
  }

  /** Subscribes to every conversation of a tenant; returns the unsubscribe function, or null when full. */
  subscribeTenant(tenantId: string, listener: TenantListener): (() => void) | null {
    if (this.count >= this.maxSubscribers) return null;
    let set = this.tenantListeners.get(tenantId);
    if (!set) this.tenantListeners.set(tenantId, (set = new Set()));
    set.add(listener);
    this.count += 1;
    return () => {
      if (!set.delete(listener)) return;
      this.count -= 1;
      if (set.size === 0) this.tenantListeners.delete(tenantId);
    };
  }

  publish(tenantId: string, conversationId: string, message: HubMessage): void {
    for (const listener of [...(this.tenantListeners.get(tenantId) ?? [])]) listener(conversationId, message);
    const set = this.listeners.get(keyOf(tenantId, conversationId));
    if (!set) return;
    for (const listener of [...set]) listener(message);
  }
}
