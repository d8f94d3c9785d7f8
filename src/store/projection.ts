import { createHash } from 'node:crypto';
import type { GraftEvent, ReplyKind } from '../core/events.js';
import { type ConversationKey, deliveryIdOf } from '../core/ports.js';
import { canonicalJson } from '../tools/define-tool.js';

/**
 * The rows every store keeps beside the log, written in the same transaction as the events they
 * come from: inbound message ids (de-duplication), the effect ledger and the reply outbox. One
 * function says which rows an append writes, so that every adapter projects the same way.
 */
export type ProjectionOp =
  | { op: 'message'; messageId: string }
  | { op: 'ledger-start'; idempotencyKey: string; requestHash: string; effectId: string; tool: string }
  | { op: 'ledger-status'; effectId: string; status: 'done' | 'failed' | 'unknown'; output: string | null }
  | {
      op: 'outbox-add';
      replyId: string;
      deliveryId: string;
      text: string;
      covers: string[];
      kind: ReplyKind;
      committedAt: number;
    }
  | { op: 'outbox-delivered'; replyId: string; deliveredAt: number };

export function projectionOps(key: ConversationKey, events: readonly GraftEvent[]): ProjectionOp[] {
  const ops: ProjectionOp[] = [];
  for (const event of events) {
    switch (event.type) {
      case 'message.received':
        ops.push({ op: 'message', messageId: event.messageId });
        break;
      case 'effect.started':
        for (const e of event.effects) {
          // A request for approval has not started: it enters the ledger once approved.
          if (e.approval) continue;
          ops.push({
            op: 'ledger-start',
            idempotencyKey: e.idempotencyKey,
            requestHash: requestHash(e.tool, e.arguments),
            effectId: e.effectId,
            tool: e.tool,
          });
        }
        break;
      case 'effect.approved':
        ops.push({
          op: 'ledger-start',
          idempotencyKey: event.request.idempotencyKey,
          requestHash: requestHash(event.request.tool, event.request.arguments),
          effectId: event.effectId,
          tool: event.request.tool,
        });
        break;
      case 'effect.settled':
        ops.push({
          op: 'ledger-status',
          effectId: event.effectId,
          status: event.outcome,
          output: event.output,
        });
        break;
      case 'effect.unknown':
        ops.push({ op: 'ledger-status', effectId: event.effectId, status: 'unknown', output: null });
        break;
      case 'reply.committed':
        ops.push({
          op: 'outbox-add',
          replyId: event.replyId,
          deliveryId: deliveryIdOf(key, event.replyId),
          text: event.text,
          covers: event.covers,
          kind: event.kind,
          committedAt: event.at,
        });
        break;
      case 'reply.delivered':
        ops.push({ op: 'outbox-delivered', replyId: event.replyId, deliveredAt: event.at });
        break;
      default:
        break;
    }
  }
  return ops;
}

/** The ledger's request hash: the tool and its arguments, canonicalised (key order does not matter). */
export function requestHash(tool: string, args: string): string {
  let canonical = args;
  try {
    canonical = canonicalJson(JSON.parse(args));
  } catch {
    // Arguments that are not JSON are hashed as they are (graft never starts such a call).
  }
  return createHash('sha256').update(`${tool}\u0000${canonical}`).digest('hex');
}
