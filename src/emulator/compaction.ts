import { createHmac, timingSafeEqual } from 'node:crypto';
import type { BrainAttachment } from '../core/brain.js';
import type { InputItem } from '../core/items.js';

/**
 * What a compaction item stands for. The API's compaction item holds an encrypted summary that
 * only the API can read; the emulator's holds the brain's view of the items it replaced, signed,
 * so that a later request that replays it gives the brain the same context as before (the brain
 * sees the conversation in full; only the billed tokens shrink, see `compactionTokens`).
 */
export interface CompactedContext {
  items: InputItem[];
  attachments: BrainAttachment[];
  /** The estimated tokens of the items it replaced. */
  tokens: number;
}

const COMPACTION_KEY = 'graft-emulator-compaction';
const PREFIX = 'gAAAAA';

function mac(payload: string): string {
  return createHmac('sha256', COMPACTION_KEY).update(payload).digest('base64url');
}

/** The opaque `encrypted_content` of a compaction item. */
export function encodeCompaction(context: CompactedContext): string {
  const payload = JSON.stringify(context);
  return `${PREFIX}${Buffer.from(JSON.stringify({ payload, mac: mac(payload) })).toString('base64')}`;
}

/** The context a compaction item this emulator issued stands for, or null for any other content. */
export function decodeCompaction(encrypted: string): CompactedContext | null {
  if (!encrypted.startsWith(PREFIX)) return null;
  try {
    const outer = JSON.parse(Buffer.from(encrypted.slice(PREFIX.length), 'base64').toString('utf8')) as {
      payload?: unknown;
      mac?: unknown;
    };
    if (typeof outer.payload !== 'string' || typeof outer.mac !== 'string') return null;
    const expected = Buffer.from(mac(outer.payload));
    const actual = Buffer.from(outer.mac);
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return null;
    return JSON.parse(outer.payload) as CompactedContext;
  } catch {
    return null;
  }
}

/**
 * The tokens a compaction item is billed as: a summary a tenth the size of what it replaced (the
 * API does not document the ratio; it is what makes compaction worth calling).
 */
export function compactionTokens(context: CompactedContext): number {
  return Math.max(16, Math.ceil(context.tokens / 10));
}
