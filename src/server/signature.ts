import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries a body's signature, both ways (inbound messages, outbound replies). */
export const SIGNATURE_HEADER = 'X-Graft-Signature';

/**
 * The signature of a raw body: `sha256=<hex HMAC-SHA256 of the body>` with the tenant's secret.
 *
 * @example
 * sign('s3cret', '{"id":"m1","text":"hi"}'); // 'sha256=…'
 */
export function sign(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether `header` is the body's signature; compared in constant time (no early exit on a prefix). */
export function verifySignature(
  secret: string,
  body: Uint8Array,
  header: string | null | undefined,
): boolean {
  if (typeof header !== 'string') return false;
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!match) return false;
  const given = Buffer.from(match[1]!.toLowerCase(), 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}
