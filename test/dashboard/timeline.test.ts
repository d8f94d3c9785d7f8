import { describe, expect, it } from 'vitest';
import { SseParser } from '../../src/dashboard/sse.js';
import { layoutTurn, offsetLabel, ticks, turnsOf } from '../../src/dashboard/timeline.js';
import { conversationView } from '../../src/server/view.js';
import { longConversationLog } from './long-conversation.js';

/** The dashboard's logic that needs no browser: the layout of a turn, and the SSE parser. */
describe('the layout of a turn', () => {
  const start = Date.parse('2026-12-01T09:00:00Z');
  const view = conversationView('demo', 'long', longConversationLog('long', 3, start))!;
  const turns = turnsOf(view);

  it('groups attempts, messages and the reply by turn, as graft inspect does', () => {
    expect(turns.map((t) => [t.turn, t.attempts.length, t.messages.map((m) => m.id), t.reply?.turn])).toEqual(
      [
        [1, 2, ['t1a', 't1b'], 1],
        [2, 2, ['t2a', 't2b'], 2],
        [3, 2, ['t3a', 't3b'], 3],
      ],
    );
  });

  it('draws attempts as lanes, calls with their outcome, a refusal, and each graft from the effect to the call', () => {
    const layout = layoutTurn(view, turns[0]!, start + 999_999);
    expect(layout.live).toBe(false);
    expect(layout.end - layout.start).toBeGreaterThan(2_000);
    const [a, b] = layout.lanes;
    expect(a!.attempt.status).toBe('superseded');
    expect(a!.end).toBeLessThan(b!.end);
    expect(b!.calls.map((c) => [c.call.reason, c.outcome])).toEqual([
      ['start', 'responded'],
      ['rebase', 'responded'],
      ['continue', 'responded'],
    ]);
    expect(b!.calls[0]!.tools.map((t) => t.kind)).toEqual(['refused']);
    expect(a!.effects[0]!.segments.map((s) => s.status)).toEqual(['running', 'done']);
    expect(layout.links.map((l) => [l.status, l.fromLane, l.toLane])).toEqual([
      ['running', 0, 1],
      ['done', 0, 1],
    ]);
    // The "done" graft leaves the effect when it settled, before the rebase call asked.
    const done = layout.links[1]!;
    expect(done.fromAt).toBe(Date.parse(a!.effects[0]!.effect.history[1]!.at));
    expect(done.fromAt).toBeLessThanOrEqual(done.toAt);
  });

  it('puts round ticks on the axis', () => {
    expect(ticks(3_050)).toEqual([0, 1000, 2000, 3000]);
    expect(ticks(900)).toEqual([0, 200, 400, 600, 800]);
    expect(offsetLabel(1500)).toBe('+1.5 s');
    expect(offsetLabel(340)).toBe('+340 ms');
  });
});

describe('the SSE parser', () => {
  it('reads events split anywhere, with CRLF line ends, comments and multi-line data', () => {
    const seen: { event: string; data: string; id: string | null }[] = [];
    const parser = new SseParser((m) => seen.push(m));
    const text = ': open\r\n\r\nevent: conversation\r\ndata: {"a":1}\r\n\r\nid: 7\ndata: one\ndata: two\n\n';
    for (const chunk of text.match(/.{1,3}/gs)!) parser.feed(chunk);
    expect(seen).toEqual([
      { event: 'conversation', data: '{"a":1}', id: null },
      { event: 'message', data: 'one\ntwo', id: '7' },
    ]);
  });
});
