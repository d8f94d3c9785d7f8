import OpenAI from 'openai';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import {
  compactionProblems,
  eventProblems,
  itemProblems,
  loadOpenResponsesSchema,
  responseProblems,
  type OpenResponsesSchema,
} from './open-responses.js';
import type { SpecValidators } from './spec.js';

/** The schemas every answer is checked against. */
export type SchemaName = 'official' | 'openResponses' | 'openResponsesSchema';

/** What the validating fetch saw: counts per kind, and every body that broke a schema. */
export interface Conformance {
  violations: string[];
  counts: {
    responses: number;
    events: number;
    errors: number;
    lists: number;
    deletions: number;
    compactions: number;
  };
  /** Bodies and events checked, and those found invalid, per schema. */
  checked: Record<SchemaName, number>;
  invalid: Record<SchemaName, number>;
  /** Resolves once every body seen so far (streams included) has been read and checked. */
  settled(): Promise<void>;
}

export interface Harness {
  emulator: Emulator;
  url: string;
  client: OpenAI;
  conformance: Conformance;
  /** Checks a body or event that came another way (a WebSocket message). */
  checker: Checker;
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

/** What kind of body an answer is, from its route and status. */
export type BodyKind = 'error' | 'list' | 'deletion' | 'compaction' | 'response';

function kindOf(method: string, url: string, status: number): BodyKind {
  if (status >= 400) return 'error';
  if (/\/input_items(\?|$)/.test(url)) return 'list';
  if (method === 'DELETE') return 'deletion';
  if (/\/responses\/compact(\?|$)/.test(url)) return 'compaction';
  return 'response';
}

/** Checks bodies and events against the official spec, Open Responses' requirements, and its schema when given. */
export class Checker {
  private readonly openResponses: OpenResponsesSchema | null = loadOpenResponsesSchema();

  constructor(
    private readonly spec: SpecValidators,
    private readonly conformance: Conformance,
  ) {}

  private tally(schema: SchemaName, where: string, run: () => string[]): void {
    this.conformance.checked[schema]++;
    let problems: string[];
    try {
      problems = run();
    } catch (error) {
      problems = [String(error)];
    }
    if (problems.length === 0) return;
    this.conformance.invalid[schema]++;
    this.conformance.violations.push(`[${schema}] ${where}: ${problems.join('; ')}`);
  }

  private official(name: string, value: unknown): string[] {
    this.spec.check(name, value);
    return [];
  }

  body(kind: BodyKind, where: string, body: unknown): void {
    const { counts } = this.conformance;
    const full = this.openResponses;
    switch (kind) {
      case 'error':
        counts.errors++;
        return this.tally('official', where, () => this.official('ErrorResponse', body));
      case 'list': {
        counts.lists++;
        this.tally('official', where, () => this.official('ResponseItemList', body));
        const data = (body as { data?: unknown[] }).data ?? [];
        this.tally('openResponses', where, () => data.flatMap((item, i) => itemProblems(`data[${i}]`, item)));
        if (full)
          this.tally('openResponsesSchema', where, () =>
            data.flatMap((item) => full.problems('ItemField', item)),
          );
        return;
      }
      case 'deletion': {
        // The spec gives no schema for the deletion answer; its example is `{ id, object, deleted }`.
        counts.deletions++;
        const deleted = body as { id?: unknown; object?: unknown; deleted?: unknown };
        return this.tally('official', where, () =>
          typeof deleted.id === 'string' && deleted.object === 'response' && deleted.deleted === true
            ? []
            : [`unexpected deletion answer ${JSON.stringify(body)}`],
        );
      }
      case 'compaction':
        counts.compactions++;
        this.tally('official', where, () => this.official('CompactResource', body));
        this.tally('openResponses', where, () => compactionProblems(body));
        if (full) this.tally('openResponsesSchema', where, () => full.problems('CompactResource', body));
        return;
      case 'response':
        counts.responses++;
        this.tally('official', where, () => this.official('Response', body));
        this.tally('openResponses', where, () => responseProblems('response', body));
        if (full) this.tally('openResponsesSchema', where, () => full.problems('ResponseResource', body));
    }
  }

  /** A stream event (SSE), or a WebSocket server event (`overWebSocket`). */
  event(where: string, event: unknown, overWebSocket = false): void {
    this.conformance.counts.events++;
    const type = (event as { type?: string }).type ?? '';
    const wsError = overWebSocket && type === 'error' && !('sequence_number' in (event as object));
    this.tally('official', where, () => {
      if (wsError) return this.official('ResponseWsError', event);
      this.spec.checkEvent(event);
      if (overWebSocket) this.official('ResponsesServerEvent', event);
      return [];
    });
    this.tally('openResponses', where, () => eventProblems(event));
    const full = this.openResponses;
    if (!full) return;
    this.tally('openResponsesSchema', where, () => {
      if (wsError) return full.problems('WebSocketErrorEvent', event);
      const schema = full.eventSchema(type);
      return schema ? full.problems(schema, event) : [`Open Responses has no stream event '${type}'`];
    });
  }
}

/**
 * A `fetch` for the SDK that checks a copy of every answer: JSON bodies by route and status, and
 * each server-sent event.
 */
function validatingFetch(checker: Checker, pending: Promise<void>[]): typeof fetch {
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
      const where = `${method} ${url}`;
      if ((copy.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        for (const event of parseEvents(text)) checker.event(where, event);
      } else {
        checker.body(kindOf(method, url, copy.status), where, JSON.parse(text));
      }
    };
    pending.push(check());
    return response;
  };
}

export function newConformance(pending: Promise<void>[]): Conformance {
  return {
    violations: [],
    counts: { responses: 0, events: 0, errors: 0, lists: 0, deletions: 0, compactions: 0 },
    checked: { official: 0, openResponses: 0, openResponsesSchema: 0 },
    invalid: { official: 0, openResponses: 0, openResponsesSchema: 0 },
    settled: async () => {
      while (pending.length > 0) await Promise.all(pending.splice(0));
    },
  };
}

/** Starts an emulator on port 0 with an SDK client (no retries) whose every answer is checked. */
export async function startHarness(
  spec: SpecValidators,
  options: EmulatorOptions = {},
  apiKey = 'test-key',
): Promise<Harness> {
  const emulator = createEmulator(options);
  const listening = await emulator.listen(0);
  const pending: Promise<void>[] = [];
  const conformance = newConformance(pending);
  const checker = new Checker(spec, conformance);
  const client = new OpenAI({
    apiKey,
    baseURL: listening.url,
    maxRetries: 0,
    fetch: validatingFetch(checker, pending),
  });
  let stopped: Promise<string[]> | null = null;
  const stop = (): Promise<string[]> =>
    (stopped ??= (async () => {
      await conformance.settled();
      await listening.close();
      return conformance.violations;
    })());
  return { emulator, url: listening.url, client, conformance, checker, stop };
}
