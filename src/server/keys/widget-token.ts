import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { MAX_TENANT_ID_LENGTH } from './key-store.js';

/**
 * The web chat widget's per-customer tokens (docs/widget.md, "Tokens"). A tenant's backend signs
 * one for each customer with the tenant's widget secret; the browser shows it to graft as
 * `Authorization: Bearer <token>`. It names the tenant, the customer and when it expires, and
 * grants nothing but that customer's chat: it is never an API key.
 *
 *     v1.<base64url(JSON {"tenant","customer","exp"})>.<base64url(HMAC-SHA256(secret, "v1.<payload>"))>
 *
 * `exp` is in seconds since the epoch, as in a JWT.
 */
export interface WidgetTokenClaims {
  tenant: string;
  customer: string;
  /** Expiry, in seconds since the epoch. */
  exp: number;
}

/** The conversation of a widget customer: `web:<customer>`. */
export const WIDGET_CONVERSATION_PREFIX = 'web:';
/** A customer id's longest length: its conversation id (`web:<customer>`) has at most 200 characters. */
export const MAX_CUSTOMER_ID_LENGTH = 200 - WIDGET_CONVERSATION_PREFIX.length;
/** A token's longest length (a longest tenant and customer fit well within it). */
export const MAX_WIDGET_TOKEN_LENGTH = 2_048;

const VERSION = 'v1';

const claimsSchema = z.object({
  tenant: z
    .string()
    .max(MAX_TENANT_ID_LENGTH)
    .regex(/^[A-Za-z0-9._-]+$/),
  customer: z
    .string()
    .min(1)
    .max(MAX_CUSTOMER_ID_LENGTH)
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value)),
  exp: z.number().int().positive(),
});

/** Why a token was refused: `token_expired` (ask the tenant's backend for a new one) or `invalid_token`. */
export type WidgetTokenError = { code: 'invalid_token' | 'token_expired'; message: string };

const mac = (secret: string, signed: string): Buffer =>
  createHmac('sha256', secret).update(signed, 'utf8').digest();

/**
 * Signs a widget token for one customer of a tenant, for a tenant's Node backend (any language can
 * sign one: docs/widget.md shows the format and a shell example).
 *
 * @example
 * const token = signWidgetToken({ tenant: 'acme', customer: 'u_42', expiresInSeconds: 3600 }, secret);
 * // <script src="https://graft.example/widget.js" data-token="${token}"></script>
 */
export function signWidgetToken(
  claims: { tenant: string; customer: string; expiresInSeconds: number; now?: number },
  secret: string,
): string {
  if (secret === '') throw new TypeError('the widget secret must not be empty');
  const exp = Math.floor((claims.now ?? Date.now()) / 1000) + Math.floor(claims.expiresInSeconds);
  const body = { tenant: claims.tenant, customer: claims.customer, exp };
  const parsed = claimsSchema.safeParse(body);
  if (!parsed.success)
    throw new TypeError(
      `bad widget token claims: tenant is 1 to ${MAX_TENANT_ID_LENGTH} letters, digits, '.', '_' or '-'; customer is 1 to ${MAX_CUSTOMER_ID_LENGTH} characters without control characters; expiresInSeconds is positive`,
    );
  const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
  const signed = `${VERSION}.${payload}`;
  return `${signed}.${mac(secret, signed).toString('base64url')}`;
}

/**
 * The claims a token states, before its signature is checked: only to find whose secret checks it.
 * Null when it is not a well-formed token.
 */
export function unverifiedWidgetClaims(token: string): WidgetTokenClaims | null {
  if (token.length > MAX_WIDGET_TOKEN_LENGTH) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || !/^[A-Za-z0-9_-]+$/.test(parts[1]!)) return null;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const parsed = claimsSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/**
 * Checks a token with the secret of the tenant it names (`secretOf`; null: the tenant has no
 * widget), in constant time, and that it has not expired at `nowMs`. Resolves with its claims, or
 * with why it was refused.
 *
 * @example
 * const checked = await verifyWidgetToken(token, async (tenant) => secrets[tenant] ?? null);
 * if ('code' in checked) return unauthorized(checked);
 */
export async function verifyWidgetToken(
  token: string,
  secretOf: (tenant: string) => Promise<string | null>,
  nowMs: number = Date.now(),
): Promise<WidgetTokenClaims | WidgetTokenError> {
  const claims = unverifiedWidgetClaims(token);
  if (claims === null)
    return { code: 'invalid_token', message: 'the token is not a graft widget token (v1.<payload>.<mac>)' };
  const secret = await secretOf(claims.tenant);
  const signed = token.slice(0, token.lastIndexOf('.'));
  // Compared as text: base64url decoding ignores a last character's spare bits, and so would
  // accept more than one spelling of a signature.
  const given = Buffer.from(token.slice(signed.length + 1), 'utf8');
  const expected = secret ? Buffer.from(mac(secret, signed).toString('base64url'), 'utf8') : null;
  // A tenant without a widget secret and a wrong signature are told apart only in the message.
  if (expected === null || given.length !== expected.length || !timingSafeEqual(given, expected))
    return {
      code: 'invalid_token',
      message:
        expected === null
          ? `tenant '${claims.tenant}' has no web chat (no widget secret)`
          : 'the token is not signed with the widget secret of its tenant',
    };
  if (claims.exp * 1000 <= nowMs)
    return {
      code: 'token_expired',
      message: `the token expired at ${new Date(claims.exp * 1000).toISOString()}; ask for a new one`,
    };
  return claims;
}
