/**
 * Sends a fuzzed request to the service in-process and checks the answer: no 5xx (but 503 while
 * the store fails), well-formed error JSON with a known code, nothing of tenant B in an answer to
 * tenant A, and no background failure other than an injected one.
 */
import fc from 'fast-check';
import { GraftError } from '../../src/core/errors.js';
import { conversationKey } from '../../src/core/ports.js';
import type { ErrorCode } from '../../src/server/errors.js';
import { sign, SIGNATURE_HEADER } from '../../src/server/signature.js';
import type { FuzzRequest } from './http-inputs.js';
import { fuzzRequest } from './http-inputs.js';
import type { FuzzWorld } from './world.js';

/** Every code of src/server/errors.ts `ErrorCode` (the `satisfies` keeps the lists in step). */
const CODES = {
  invalid_json: 1,
  invalid_request: 1,
  invalid_conversation_id: 1,
  invalid_message_id: 1,
  invalid_text: 1,
  invalid_query: 1,
  unauthorized: 1,
  invalid_signature: 1,
  not_found: 1,
  message_id_conflict: 1,
  idempotency_conflict: 1,
  request_not_pending: 1,
  already_taken_over: 1,
  not_taken_over: 1,
  effect_not_blocked: 1,
  payload_too_large: 1,
  message_too_long: 1,
  unprocessable: 1,
  rate_limited: 1,
  unavailable: 1,
  internal: 1,
} satisfies Record<ErrorCode, 1>;
const KNOWN_CODES = new Set(Object.keys(CODES));

/** What the fuzzer saw, for the summary. */
export interface FuzzStats {
  requests: number;
  unsendable: number;
  byStatus: Map<number, number>;
  byCode: Map<string, number>;
}

export const emptyStats = (): FuzzStats => ({
  requests: 0,
  unsendable: 0,
  byStatus: new Map(),
  byCode: new Map(),
});

const bump = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1);

/** The request as the client sends it (symbols resolved), or null when no client could send it. */
export function toRequest(world: FuzzWorld, r: FuzzRequest): Request | null {
  const b = world.markers.conversation;
  const resolve = (s: string) =>
    s
      .replaceAll('{B}', `${b}0`)
      .replaceAll('{B64}', Buffer.from(`${b}1`).toString('base64url'))
      .replaceAll('{A}', world.keys.a);
  // A header's bytes reach the server as Latin-1 (as Node's HTTP parser reads them): text beyond
  // it is sent as its UTF-8 bytes.
  const latin1 = (s: string) => Buffer.from(resolve(s), 'utf8').toString('latin1');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) headers[k] = latin1(v);
  if (r.auth.kind === 'a') headers.authorization = `Bearer ${world.keys.a}`;
  if (r.auth.kind === 'raw') headers.authorization = latin1(r.auth.value);
  const bytes =
    r.body === null
      ? null
      : r.body.kind === 'bytes'
        ? r.body.bytes
        : new Uint8Array(Buffer.from(resolve(r.body.text), 'utf8'));
  if (world.inboundSecret && r.signature.kind !== 'none') {
    headers[SIGNATURE_HEADER.toLowerCase()] =
      r.signature.kind === 'valid'
        ? sign(world.inboundSecret, bytes ?? new Uint8Array())
        : latin1(r.signature.value);
  }
  try {
    const url = new URL(`http://localhost${resolve(r.path)}`);
    return new Request(url, {
      method: r.method,
      headers,
      ...(bytes !== null && !['GET', 'HEAD'].includes(r.method.toUpperCase()) ? { body: bytes } : {}),
    });
  } catch {
    // A header that is not a ByteString, a forbidden method, a path that is no URL: the fetch
    // API refuses to build it, so no HTTP client sends it either.
    return null;
  }
}

/**
 * The body of an answer: all of it, or for an event stream what arrives within `streamMs`
 * (the stream then is cancelled, as a client that goes away cancels it).
 */
async function readAnswer(res: Response, streamMs = 20): Promise<string> {
  if (!res.body) return '';
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) return res.text();
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + streamMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      reader.read(),
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), left))),
    ]);
    clearTimeout(timer);
    if (next === null || next.done) break;
    text += decoder.decode(next.value, { stream: true });
  }
  await reader.cancel();
  return text;
}

/** What is wrong with an error answer's body, or null. */
function badErrorBody(text: string): string | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `error body is not JSON: ${text.slice(0, 200)}`;
  }
  if (typeof json !== 'object' || json === null || Object.keys(json).join() !== 'error')
    return `error body is not { error }: ${text.slice(0, 200)}`;
  const error = (json as { error: unknown }).error;
  if (typeof error !== 'object' || error === null) return `error is not an object: ${text.slice(0, 200)}`;
  const { code, message, ...rest } = error as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return `error has extra fields: ${Object.keys(rest).join()}`;
  if (typeof code !== 'string' || !KNOWN_CODES.has(code)) return `unknown error code ${String(code)}`;
  if (typeof message !== 'string' || message === '') return 'error message is not a non-empty string';
  return null;
}

/** Tenant B's markers that the answer shows and neither A's request nor A's own data explains. */
async function leaked(world: FuzzWorld, request: string, answer: string): Promise<string[]> {
  const { text, reply, conversation } = world.markers;
  const found: string[] = [];
  for (const marker of [text, reply]) if (answer.includes(marker)) found.push(marker);
  // B's conversation ids: A may name them (and is told "not found"), or own a conversation
  // of the same id (conversations are per tenant); anything else is B's.
  for (const match of answer.matchAll(new RegExp(`${conversation}\\d`, 'g'))) {
    const id = match[0];
    if (request.includes(id)) continue;
    if ((await world.store.peek(conversationKey('acme', id))).length > 0) continue;
    found.push(id);
  }
  return found;
}

/** Sends one request and returns what is wrong with the answer (empty: nothing). */
export async function checkRequest(world: FuzzWorld, r: FuzzRequest, stats: FuzzStats): Promise<string[]> {
  const request = toRequest(world, r);
  stats.requests += 1;
  if (request === null) {
    stats.unsendable += 1;
    return [];
  }
  const errorsBefore = world.errors.length;
  world.store.faultRate = r.faulty ? 0.3 : 0;
  let res: Response;
  let text: string;
  try {
    res = await world.service.app.fetch(request);
    text = await readAnswer(res);
  } finally {
    world.store.faultRate = 0;
  }
  bump(stats.byStatus, res.status);
  const problems: string[] = [];
  if (res.status >= 500 && !(res.status === 503 && r.faulty))
    problems.push(`status ${res.status}: ${text.slice(0, 300)}`);
  if (res.status >= 400 && request.method !== 'HEAD') {
    const bad = badErrorBody(text);
    if (bad) problems.push(bad);
    else bump(stats.byCode, (JSON.parse(text) as { error: { code: string } }).error.code);
    if ([429, 503].includes(res.status) && !/^[1-9]\d*$/.test(res.headers.get('retry-after') ?? ''))
      problems.push(`${res.status} without a Retry-After of whole seconds`);
  }
  const seen = `${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${text}`;
  const sent = `${request.url}\n${[...request.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}`;
  for (const marker of await leaked(world, sent, seen)) problems.push(`tenant B's ${marker} shown to A`);
  // Background work may fail only by the faults injected into it.
  for (const error of world.errors.slice(errorsBefore)) {
    if (!(error instanceof GraftError && error.kind === 'retryable'))
      problems.push(`background failure: ${error instanceof Error ? error.stack : String(error)}`);
  }
  return problems;
}

/** The property: no request gets a wrong answer. */
export function httpProperty(world: FuzzWorld, stats: FuzzStats) {
  return fc.asyncProperty(fuzzRequest, async (r) => {
    const problems = await checkRequest(world, r, stats);
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
}

/** The writes that ran more than once under one idempotency key. */
export function writtenTwice(world: FuzzWorld): string[] {
  const keys = world.runs.map((r) => `${r.tenant}/${r.conversationId}/${r.key}`);
  return [...new Set(keys.filter((k, i) => keys.indexOf(k) !== i))];
}
