/**
 * The service under fuzzing: two tenants on a memory store that fails on demand, an in-process
 * model, and a recording write tool. Tenant `globex` (B) is given conversations whose ids, message
 * texts and replies carry random markers; whatever tenant `acme` (A) sends, no answer to A may
 * contain one of them (unless A's own request carried it).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { BrainRequest } from '../../src/core/brain.js';
import { RetryableError } from '../../src/core/errors.js';
import type { GraftEvent } from '../../src/core/events.js';
import { conversationKey, type ConversationKey } from '../../src/core/ports.js';
import { BrainModel } from '../../src/model/brain-model.js';
import { MemoryKeyStore } from '../../src/server/keys/key-store.js';
import { createService } from '../../src/server/service.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { defineTool } from '../../src/tools/define-tool.js';

/** A small seeded generator (mulberry32): the faults of a run replay with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A memory store that, while `faultRate` > 0, fails that share of its calls with a
 * `RetryableError` (as a database that is down or locked does), before doing anything.
 */
export class FaultyStore extends MemoryStore {
  faultRate = 0;
  faults = 0;
  constructor(private readonly random: () => number) {
    super();
  }
  private fault(): RetryableError | null {
    if (this.faultRate <= 0 || this.random() >= this.faultRate) return null;
    this.faults += 1;
    return new RetryableError('injected store fault', this.random() < 0.5 ? null : 2_500);
  }
  /** Reads past the faults (for the checks, not the service). */
  peek(key: ConversationKey): Promise<GraftEvent[]> {
    return super.read(key, 0);
  }
  override append(...args: Parameters<MemoryStore['append']>): Promise<void> {
    const fault = this.fault();
    return fault ? Promise.reject(fault) : super.append(...args);
  }
  override read(key: ConversationKey, afterSeq: number): Promise<GraftEvent[]> {
    const fault = this.fault();
    return fault ? Promise.reject(fault) : super.read(key, afterSeq);
  }
  override conversations(...args: Parameters<MemoryStore['conversations']>) {
    const fault = this.fault();
    return fault ? Promise.reject(fault) : super.conversations(...args);
  }
  override ledger(...args: Parameters<MemoryStore['ledger']>) {
    const fault = this.fault();
    return fault ? Promise.reject(fault) : super.ledger(...args);
  }
}

/** What the recording write tool did: every run, with the arguments it was given. */
export interface ToolRun {
  tenant: string;
  conversationId: string;
  args: unknown;
  key: string | null;
  attemptId: string;
  effectId: string | null;
  at: number;
}

export const noteArgs = z.object({ note: z.string().max(200) }).strict();

export interface FuzzWorldOptions {
  seed: number;
  /** Tenant A must sign its messages (`X-Graft-Signature`) with this secret. */
  inboundSecret?: string | null;
}

/** Markers of tenant B's data, random per world so that no generated input guesses them. */
function markers() {
  const tag = () => randomBytes(8).toString('hex');
  return { conversation: `bconv${tag()}`, text: `BTEXT${tag()}`, reply: `BREPLY${tag()}` };
}

/** The in-process model: replies to B with B's marker, to A with a fixed text, sometimes via the tool. */
function brain(mark: ReturnType<typeof markers>) {
  return (request: BrainRequest) => {
    const last = request.input.at(-1);
    if (last?.type === 'function_call_output') return [{ type: 'message' as const, text: 'noted' }];
    const seen = JSON.stringify(request.input);
    if (seen.includes(mark.text)) {
      return [{ type: 'message' as const, text: `${mark.reply} for you` }];
    }
    // A's turns call the write tool now and then, so the ledger and the tool run under fuzzing.
    if (seen.length % 3 === 0)
      return [{ type: 'function_call' as const, name: 'note', arguments: '{"note":"from A"}' }];
    return [{ type: 'message' as const, text: 'thanks, noted' }];
  };
}

/** Builds the service and plants tenant B's data. */
export async function fuzzWorld(options: FuzzWorldOptions) {
  const random = seededRandom(options.seed);
  const store = new FaultyStore(random);
  const keys = new MemoryKeyStore();
  const a = (await keys.create('acme')).key;
  const b = (await keys.create('globex')).key;
  if (options.inboundSecret) {
    await keys.setTenant({
      tenantId: 'acme',
      webhookUrl: null,
      webhookSecret: null,
      inboundSecret: options.inboundSecret,
    });
  }
  const mark = markers();
  const runs: ToolRun[] = [];
  const note = defineTool({
    name: 'note',
    description: 'Writes a note',
    parameters: noteArgs,
    effect: 'write',
    run: (args, ctx) => {
      runs.push({
        tenant: ctx.tenantId,
        conversationId: ctx.conversationId,
        args,
        key: ctx.idempotencyKey,
        attemptId: ctx.attemptId,
        effectId: ctx.effectId,
        at: Date.now(),
      });
      return { ok: true };
    },
  });
  const errors: unknown[] = [];
  const service = createService({
    store,
    keys,
    model: new BrainModel(brain(mark)),
    tools: [note],
    webhook: { url: null },
    authCacheMs: 0,
    // Background failures (injected faults) are expected; they are counted, not thrown.
    onError: (error) => errors.push(error),
  });
  await service.start();
  for (let i = 0; i < 3; i += 1) {
    const res = await service.app.request(`/v1/conversations/${mark.conversation}${i}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${b}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: `bm${i}`, text: `${mark.text} order ${i}` }),
    });
    if (res.status !== 202) throw new Error(`planting B's data: ${res.status} ${await res.text()}`);
  }
  await service.idle();
  const planted = await store.read(conversationKey('globex', `${mark.conversation}0`), 0);
  if (!JSON.stringify(planted).includes(mark.reply)) throw new Error("B's reply was not planted");
  return {
    service,
    store,
    keys: { a, b },
    markers: mark,
    inboundSecret: options.inboundSecret ?? null,
    runs,
    errors,
    close: () => service.close(),
  };
}

export type FuzzWorld = Awaited<ReturnType<typeof fuzzWorld>>;
