import type { ResponseRun } from './run.js';
import type { ResponseObject, WireItem } from './wire.js';

/** A response the emulator keeps: the object itself and what it was generated from. */
export interface StoredResponse {
  response: ResponseObject;
  /** This request's input items, with ids. */
  inputItems: WireItem[];
  /** The whole context the response was generated from: the parent chain's items, then the input. */
  context: WireItem[];
  /** Whether the create asked for `stream: true` (a background response can then be re-streamed). */
  streamed: boolean;
  /** The generation, while one exists (kept after it ends for its event log). */
  run: ResponseRun | null;
}

/**
 * The in-memory store of responses created with `store: true`, bounded: past `maxResponses` the
 * oldest are evicted (as the API expires old responses).
 */
export class ResponseStore {
  private readonly responses = new Map<string, StoredResponse>();
  /** Output item ids of stored responses, so a replayed reasoning item can be found by id. */
  private readonly outputItems = new Map<string, string>();

  constructor(private readonly maxResponses: number) {}

  get size(): number {
    return this.responses.size;
  }

  /** Every stored response, oldest first. */
  all(): StoredResponse[] {
    return [...this.responses.values()];
  }

  get(id: string): StoredResponse | undefined {
    return this.responses.get(id);
  }

  put(record: StoredResponse): void {
    if (!record.response.store)
      throw new Error(`Response ${record.response.id} has store: false and cannot be stored.`);
    this.responses.set(record.response.id, record);
    while (this.responses.size > this.maxResponses) {
      const oldest = this.responses.keys().next().value as string;
      this.delete(oldest);
    }
  }

  /** Indexes the output items of a finished response. */
  indexOutput(record: StoredResponse): void {
    if (!this.responses.has(record.response.id)) return;
    for (const item of record.response.output) this.outputItems.set(item.id, record.response.id);
  }

  hasOutputItem(itemId: string): boolean {
    return this.outputItems.has(itemId);
  }

  delete(id: string): StoredResponse | undefined {
    const record = this.responses.get(id);
    if (!record) return undefined;
    this.responses.delete(id);
    for (const item of record.response.output) {
      if (this.outputItems.get(item.id) === id) this.outputItems.delete(item.id);
    }
    return record;
  }
}
