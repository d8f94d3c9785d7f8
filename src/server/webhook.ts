import { GraftError } from '../core/errors.js';
import type { Delivery, DeliveryOutcome } from '../core/ports.js';
import { SIGNATURE_HEADER, sign } from './signature.js';

/** Where a tenant's replies go. */
export interface WebhookTarget {
  url: string;
  /** Signs each body (`X-Graft-Signature: sha256=…`); unsigned without one. */
  secret: string | null;
}

/** The JSON body of a reply webhook. */
export interface ReplyWebhookBody {
  deliveryId: string;
  tenantId: string;
  conversationId: string;
  replyId: string;
  text: string;
  covers: string[];
  kind: Delivery['kind'];
}

/**
 * A reply webhook POST failed (no answer, or not a 2xx): graft's runtime retries it with backoff,
 * within its delivery bounds, and then dead-letters it.
 */
export class WebhookError extends GraftError {
  override readonly name = 'WebhookError';
  readonly kind = 'retryable';
  readonly code = 'webhook_failed';
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

export interface WebhookDelivererOptions {
  /**
   * The tenant's target, or null when it has none: the deliverer then answers `no-target`, and the
   * reply is readable over the API and SSE but not marked delivered.
   */
  target: (tenantId: string) => Promise<WebhookTarget | null>;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * POSTs a committed reply to the tenant's webhook and resolves `delivered` on a 2xx (`no-target`
 * when the tenant has no webhook); anything else throws, and graft's runtime retries with backoff
 * until it succeeds or the delivery bounds run out (then it is dead-lettered). A receiver may see the same
 * `deliveryId` more than once (a crash between the POST and its record): it de-duplicates by it.
 *
 * @example
 * const deliver = createWebhookDeliverer({ target: async () => ({ url: 'http://127.0.0.1:9000/replies', secret: 's3cret' }) });
 */
export function createWebhookDeliverer(
  options: WebhookDelivererOptions,
): (delivery: Delivery) => Promise<DeliveryOutcome> {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return async (delivery) => {
    const target = await options.target(delivery.tenantId);
    if (!target) return 'no-target';
    const payload: ReplyWebhookBody = {
      deliveryId: delivery.deliveryId,
      tenantId: delivery.tenantId,
      conversationId: delivery.conversationId,
      replyId: delivery.replyId,
      text: delivery.text,
      covers: [...delivery.covers],
      kind: delivery.kind,
    };
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'graft-webhook',
      'x-graft-delivery-id': delivery.deliveryId,
    };
    if (target.secret) headers[SIGNATURE_HEADER.toLowerCase()] = sign(target.secret, body);
    let response: Response;
    try {
      response = await doFetch(target.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new WebhookError(
        `reply webhook ${target.url} failed: ${error instanceof Error ? error.message : String(error)}`,
        null,
      );
    }
    // The body is not needed, but reading it lets the connection be reused.
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok)
      throw new WebhookError(`reply webhook ${target.url} answered ${response.status}`, response.status);
    return 'delivered';
  };
}
