import type { GraftEvent } from '../core/events.js';
import type { TenantId } from '../core/ids.js';
import type { ConversationKey, Deliverer, EventStore } from '../core/ports.js';
import { ConflictError, DuplicateMessageError, IdempotencyConflictError } from '../core/ports.js';
import type { RuntimeDeps } from './actor.js';
import type { LogSettings } from './logger.js';

/**
 * What graft logs, built only when a logger is given (src/runtime/logger.ts). The records are
 * made from the events this instance appends (`onEvent`'s source `appended`), so each is logged
 * once, when it happens, and never again when a log is read back (recovery, another instance's
 * appends). The service's metrics count the same events. Text from customers and replies is left
 * out unless `includeText` is set.
 */

/** `onEvent`, with each event this instance appended logged before it is passed on. */
export function loggedOnEvent(
  log: LogSettings,
  tenantId: TenantId,
  onEvent: RuntimeDeps['onEvent'],
): NonNullable<RuntimeDeps['onEvent']> {
  return (conversationId, event, state, source) => {
    if (source === 'appended') safely(() => logEvent(log, { tenantId, conversationId }, event));
    onEvent?.(conversationId, event, state, source);
  };
}

function logEvent(
  { logger, includeText }: LogSettings,
  key: { tenantId: string; conversationId: string },
  event: GraftEvent,
): void {
  const at = { tenantId: key.tenantId, conversationId: key.conversationId, seq: event.seq };
  switch (event.type) {
    case 'message.received':
      return logger.debug(
        { ...at, event: 'message.received', messageId: event.messageId, ...text(includeText, event.text) },
        'message received',
      );
    case 'model.failed': {
      const fields = {
        ...at,
        event: 'model.failed',
        callId: event.callId,
        failure: event.kind,
        error: event.message,
        retryAfterMs: event.retryAfterMs,
      };
      // A superseded call is aborted on purpose: not a failure anyone needs to see.
      if (event.kind === 'aborted') return logger.debug(fields, 'model call aborted');
      return logger.warn(fields, 'model call failed');
    }
    case 'model.requested':
      if (event.reason === 'retry' || event.reason === 'stateless' || event.reason === 'restart') {
        logger.info(
          {
            ...at,
            event: 'model.retry',
            callId: event.callId,
            attemptId: event.attemptId,
            reason: event.reason,
          },
          'retrying model call',
        );
      }
      return;
    case 'attempt.failed':
      return logger.warn(
        { ...at, event: 'attempt.failed', attemptId: event.attemptId, reason: event.reason },
        'attempt failed',
      );
    case 'effect.unknown':
      return logger.warn(
        {
          ...at,
          event: 'effect.unknown',
          effectId: event.effectId,
          cause: event.cause,
          reason: event.reason,
        },
        'write outcome unknown',
      );
    case 'effect.checked':
      return logger.warn(
        { ...at, event: 'effect.checked', effectId: event.effectId, note: event.note },
        'write outcome still unknown',
      );
    case 'reply.committed': {
      const fields = {
        ...at,
        replyId: event.replyId,
        kind: event.kind,
        covers: event.covers,
        needsHuman: event.needsHuman,
        ...text(includeText, event.text),
      };
      if (event.kind === 'fallback') logger.warn({ ...fields, event: 'reply.fallback' }, 'fallback reply');
      else logger.debug({ ...fields, event: 'reply.committed' }, 'reply committed');
      if (event.needsHuman)
        logger.warn(
          { ...at, event: 'needs-human', replyId: event.replyId, kind: event.kind },
          'conversation needs a person',
        );
      return;
    }
    case 'reply.dead-lettered':
      return logger.error(
        {
          ...at,
          event: 'delivery.dead-lettered',
          replyId: event.replyId,
          deliveryId: event.deliveryId,
          attempts: event.attempts,
          reason: event.reason,
          error: event.lastError,
        },
        'reply delivery gave up (dead-lettered)',
      );
    case 'reply.undelivered':
      return logger.debug(
        { ...at, event: 'delivery.no-target', replyId: event.replyId, deliveryId: event.deliveryId },
        'reply not delivered: no delivery target',
      );
    case 'reply.redelivery-requested':
      return logger.info(
        { ...at, event: 'delivery.redelivery', replyId: event.replyId, deliveryId: event.deliveryId },
        'redelivering a dead-lettered reply',
      );
    default:
      return;
  }
}

const text = (includeText: boolean, value: string): { text?: string; chars: number } =>
  includeText ? { text: value, chars: value.length } : { chars: value.length };

/** What the store throws in its normal course: the runtime handles these. */
const expected = (error: unknown) =>
  error instanceof ConflictError ||
  error instanceof DuplicateMessageError ||
  error instanceof IdempotencyConflictError;

/** The store, with each failure (an outage, a bug) logged as it happens. */
export function loggedStore(log: LogSettings, store: EventStore): EventStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || property === 'close') return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((error: unknown) => {
          if (!expected(error)) {
            const key = args[0] as Partial<ConversationKey> | undefined;
            log.logger.error(
              {
                event: 'store.failed',
                operation: String(property),
                tenantId: key?.tenantId,
                conversationId: key?.conversationId,
                err: error,
              },
              'store failed',
            );
            if (typeof error === 'object' && error !== null) logged.add(error);
          }
          throw error;
        });
      };
    },
  });
}

/** A logger that throws must not make a durable append look failed, nor keep `onEvent` from the event. */
function safely(write: () => void): void {
  try {
    write();
  } catch {
    // Nothing to do: there is nowhere left to report it.
  }
}

/** Errors already logged where they happened (delivery failures), not to be logged again. */
export const logged = new WeakSet<object>();

/** The deliverer, with each failed delivery logged (the runtime retries it with backoff). */
export function loggedDeliverer(log: LogSettings, deliverer: Deliverer): Deliverer {
  return {
    async deliver(delivery) {
      try {
        return await deliverer.deliver(delivery);
      } catch (error) {
        log.logger.warn(
          {
            event: 'delivery.failed',
            tenantId: delivery.tenantId,
            conversationId: delivery.conversationId,
            replyId: delivery.replyId,
            deliveryId: delivery.deliveryId,
            err: error,
          },
          'reply delivery failed; retrying within the delivery bounds',
        );
        if (typeof error === 'object' && error !== null) logged.add(error);
        throw error;
      }
    },
  };
}
