import OpenAI from 'openai';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import type { SpecValidators } from './spec.js';

/** What the validating fetch saw: counts per kind, and every body that broke the spec. */
export interface Conformance {
  violations: string[];
  counts: { responses: number; events: number; errors: number; lists: number; deletions: number };
  /** Resolves once every body seen so far (streams included) has been read and checked. */
  settled(): Promise<void>;
}

export interface Harness {
  emulator: Emulator;
  url: string;
  client: OpenAI;
  conformance: Conformance;
  /** Waits for every answer to be checked, closes the emulator, and returns the spec violations seen. */
  stop: () => Promise<string[]>;
}

function parseEvents(text: string): unknown[] {
  const events: unknown[] = [];
  for (const block of text.split('\n\n')) {
    const data = block.split('\n').find((line) => line.startsWith('data: '));
    if (data) events.push(JSON.parse(data.slice(6)));
  }
  return events;
}

function checkJson(
  spec: SpecValidators,
  conformance: Conformance,
  method: string,
  url: string,
  status: number,
  body: unknown,
): void {
  const { counts } = conformance;
  if (status >= 400) {
    counts.errors++;
    spec.check('ErrorResponse', body);
  } else if (/\/input_items(\?|$)/.test(url)) {
    counts.lists++;
    spec.check('ResponseItemList', body);
  } else if (method === 'DELETE') {
    // The spec gives no schema for the deletion answer; its example is `{ id, object, deleted }`.
    counts.deletions++;
    const deleted = body as { id?: unknown; object?: unknown; deleted?: unknown };
    if (typeof deleted.id !== 'string' || deleted.object !== 'response' || deleted.deleted !== true) {
      throw new Error(`Unexpected deletion answer ${JSON.stringify(body)}`);
    }
  } else {
    counts.responses++;
    spec.check('Response', body);
  }
}

/**
 * A `fetch` for the SDK that checks a copy of every answer against the spec: JSON bodies by
 * route and status, and each server-sent event against `ResponseStreamEvent`.
 */
function validatingFetch(
  spec: SpecValidators,
  conformance: Conformance,
  pending: Promise<void>[],
): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = init?.method ?? 'GET';
    const copy = response.clone();
    const check = async (): Promise<void> => {
      let text: string;
      try {
        text = await copy.text();
      } catch {
        return; // The client aborted this answer: there is no complete body to check.
      }
      try {
        if ((copy.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
          for (const event of parseEvents(text)) {
            conformance.counts.events++;
            spec.checkEvent(event);
          }
        } else {
          checkJson(spec, conformance, method, url, copy.status, JSON.parse(text));
        }
      } catch (error) {
        conformance.violations.push(`${method} ${url}: ${String(error)}`);
      }
    };
    pending.push(check());
    return response;
  };
}

/** Starts an emulator on port 0 with an SDK client (no retries) whose every answer is checked against the spec. */
export async function startHarness(
  spec: SpecValidators,
  options: EmulatorOptions = {},
  apiKey = 'test-key',
): Promise<Harness> {
  const emulator = createEmulator(options);
  const listening = await emulator.listen(0);
  const pending: Promise<void>[] = [];
  const conformance: Conformance = {
    violations: [],
    counts: { responses: 0, events: 0, errors: 0, lists: 0, deletions: 0 },
    settled: async () => {
      while (pending.length > 0) await Promise.all(pending.splice(0));
    },
  };
  const client = new OpenAI({
    apiKey,
    baseURL: listening.url,
    maxRetries: 0,
    fetch: validatingFetch(spec, conformance, pending),
  });
  let stopped: Promise<string[]> | null = null;
  const stop = (): Promise<string[]> =>
    (stopped ??= (async () => {
      await conformance.settled();
      await listening.close();
      return conformance.violations;
    })());
  return { emulator, url: listening.url, client, conformance, stop };
}
