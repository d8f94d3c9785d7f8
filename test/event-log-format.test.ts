import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { coreConfig } from '../src/core/config.js';
import type { GraftEvent } from '../src/core/events.js';
import { EVENT_VERSION } from '../src/core/events.js';
import { parseConversationId } from '../src/core/ids.js';
import { plan } from '../src/core/plan.js';
import { buildRequest } from '../src/core/request.js';
import { replay } from '../src/core/state.js';
import { parseEvent } from '../src/store/event-schema.js';

/**
 * A log that format v1 wrote (the seed's burst: an order, a second message while create_order
 * ran, and a status question in a later turn). Today's code must read it: the log is durable. It
 * is loaded as a store loads events, through the versioned schema (migrated if v1 is not current).
 */
const raw = JSON.parse(readFileSync(new URL('./fixtures/event-log-v1.json', import.meta.url), 'utf8')) as {
  v: unknown;
}[];
const fixture: GraftEvent[] = raw.map((event, i) =>
  parseEvent(event, { tenantId: 't1', conversationId: 'c1', seq: i + 1 }),
);

describe('the v1 event log format', () => {
  it('replays a log written by v1 into the same conversation', () => {
    expect(raw.every((e) => e.v === 1)).toBe(true);
    expect(fixture.every((e) => e.v === EVENT_VERSION)).toBe(true);
    // v1 is current: today's schema is a superset of v1 (later fields are optional, later types new), so nothing changes.
    expect(EVENT_VERSION).toBe(1);
    expect(fixture).toEqual(raw);
    const state = replay(parseConversationId('c1'), fixture);
    expect(state.seq).toBe(fixture.length);
    expect(state.replies.map((r) => r.covers)).toEqual([['m1', 'm2'], ['m3']]);
    expect(state.replies.every((r) => r.deliveredAt !== null)).toBe(true);
    expect([...state.effects.values()].map((e) => [e.tool, e.status])).toEqual([
      ['create_order', 'done'],
      ['update_order', 'done'],
    ]);
  });

  it('decides nothing more on a finished v1 log, and rebuilds its requests', () => {
    const state = replay(parseConversationId('c1'), fixture);
    const config = coreConfig({ instanceId: 'later' });
    expect(plan(state, config, state.now + 60_000)).toEqual({ kind: 'io', commands: [], wakeAt: null });
    for (const call of state.calls.values())
      expect(buildRequest(state, config, call).input.length).toBeGreaterThan(0);
  });
});
