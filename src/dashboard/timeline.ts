import type { EffectStatus } from '../core/events.js';
import type {
  AttemptView,
  ConversationView,
  EffectView,
  MessageView,
  ModelCallView,
  ReplyView,
  ToolCallView,
} from '../server/view.js';

/**
 * The branch tree of one turn on a time axis, as plain numbers (ms since the epoch): what the
 * dashboard draws, worked out apart from the drawing so that it can be tested on its own. The same
 * grouping as `graft inspect` (src/server/view-tree.ts): a turn is its reply, the messages it
 * covers (or those still unanswered), and the attempts made for it.
 */
export interface TurnLayout {
  turn: number;
  reply: ReplyView | null;
  messages: MessageView[];
  /** The axis: from the first message or attempt to the last thing that happened (or now). */
  start: number;
  end: number;
  /** Whether something is still going on (the axis ends at `now`). */
  live: boolean;
  lanes: Lane[];
  links: GraftLink[];
}

/** One attempt (a branch) as a lane. */
export interface Lane {
  index: number;
  attempt: AttemptView;
  start: number;
  /** When it stopped being live, or the axis end while live. */
  end: number;
  calls: CallBar[];
  /** The effects its tool calls started, each on its own row below the calls. */
  effects: EffectBar[];
}

export type CallOutcome = 'responded' | 'aborted' | 'failed' | 'pending';

export interface CallBar {
  call: ModelCallView;
  start: number;
  end: number;
  outcome: CallOutcome;
  tools: ToolMark[];
}

export type ToolMarkKind = 'effect' | 'read' | 'refused' | 'invalid' | 'unanswered';

export interface ToolMark {
  tool: ToolCallView;
  callId: string;
  at: number;
  kind: ToolMarkKind;
}

export interface EffectBar {
  effect: EffectView;
  /** Its row within the lane's effect rows (0 is the first). */
  row: number;
  segments: { status: EffectStatus; start: number; end: number }[];
  /** It goes on past the axis end (it settled, or will settle, later). */
  continues: boolean;
}

/** An effect put into a model call's context by a graft, with the status that call was told. */
export interface GraftLink {
  effectId: string;
  status: string;
  callId: string;
  toLane: number;
  /** The lane of the attempt that started the effect in this turn, or null (another turn's effect). */
  fromLane: number | null;
  /** Where the link leaves the effect: when the effect took the status the call was told (or its start). */
  fromAt: number;
  /** Where it reaches the call: the call's request. */
  toAt: number;
}

const ms = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso));

/** How a model call ended, as the dashboard names it. */
export function callOutcome(call: ModelCallView): CallOutcome {
  if (call.status === 'responded') return 'responded';
  if (call.status === 'pending') return 'pending';
  return call.failure?.kind === 'aborted' || call.failure?.kind === 'takeover' ? 'aborted' : 'failed';
}

function toolKind(tool: ToolCallView): ToolMarkKind {
  if (tool.outcome === 'effect') return 'effect';
  if (tool.outcome === 'read') return 'read';
  if (tool.outcome === 'refused') return 'refused';
  return tool.kind === 'invalid' ? 'invalid' : 'unanswered';
}

/** The turns of a conversation, oldest first, as `graft inspect` groups them. */
export function turnsOf(
  view: ConversationView,
): { turn: number; reply: ReplyView | null; messages: MessageView[]; attempts: AttemptView[] }[] {
  const count = Math.max(view.turn, ...view.attempts.map((a) => a.turn));
  const turns = [];
  for (let turn = 1; turn <= count; turn += 1) {
    const reply = view.replies.find((r) => r.turn === turn) ?? null;
    const attempts = view.attempts.filter((a) => a.turn === turn);
    const messages = view.messages.filter((m) =>
      reply ? reply.covers.includes(m.id) : m.coveredBy === null,
    );
    if (!reply && attempts.length === 0 && messages.length === 0) continue;
    turns.push({ turn, reply, messages, attempts });
  }
  return turns;
}

/** Lays out one turn of `view` (see `turnsOf`); `now` ends the axis while something is live. */
export function layoutTurn(
  view: ConversationView,
  turn: ReturnType<typeof turnsOf>[number],
  now: number,
): TurnLayout {
  const times: number[] = [];
  const push = (t: number | null) => {
    if (t !== null && Number.isFinite(t)) times.push(t);
  };
  for (const m of turn.messages) push(ms(m.receivedAt));
  for (const a of turn.attempts) {
    push(ms(a.startedAt));
    push(ms(a.endedAt));
    for (const c of a.modelCalls) {
      push(ms(c.requestedAt));
      push(ms(c.respondedAt));
      for (const t of c.toolCalls) push(ms(t.answeredAt));
    }
  }
  push(ms(turn.reply?.committedAt ?? null));
  const live =
    turn.attempts.some((a) => a.status === 'live' || a.modelCalls.some((c) => c.status === 'pending')) ||
    (turn.reply === null && turn.messages.length > 0);
  if (live) push(now);
  const start = times.length > 0 ? Math.min(...times) : now;
  const end = Math.max(start + 1, ...times);
  const effects = new Map(view.effects.map((e) => [e.id, e]));
  const lanes = turn.attempts.map((attempt, index) => laneOf(attempt, index, effects, start, end));
  return {
    turn: turn.turn,
    reply: turn.reply,
    messages: turn.messages,
    start,
    end,
    live,
    lanes,
    links: linksOf(lanes, effects, start),
  };
}

function laneOf(
  attempt: AttemptView,
  index: number,
  effects: Map<string, EffectView>,
  start: number,
  end: number,
): Lane {
  const calls: CallBar[] = attempt.modelCalls.map((call) => {
    const callStart = ms(call.requestedAt) ?? start;
    const answered = ms(call.respondedAt) ?? (call.status === 'pending' ? end : callStart);
    return {
      call,
      start: callStart,
      end: Math.max(callStart, answered),
      outcome: callOutcome(call),
      tools: call.toolCalls.map((tool) => ({
        tool,
        callId: call.id,
        at: ms(tool.answeredAt) ?? answered,
        kind: toolKind(tool),
      })),
    };
  });
  const bars: EffectBar[] = [];
  for (const bar of calls)
    for (const mark of bar.tools) {
      const effect = mark.tool.effectId === null ? undefined : effects.get(mark.tool.effectId);
      if (effect) bars.push(effectBar(effect, bars.length, end));
    }
  const laneStart = ms(attempt.startedAt) ?? start;
  return { index, attempt, start: laneStart, end: ms(attempt.endedAt) ?? end, calls, effects: bars };
}

function effectBar(effect: EffectView, row: number, axisEnd: number): EffectBar {
  const history =
    effect.history.length > 0 ? effect.history : [{ status: effect.status, at: effect.startedAt }];
  const segments = history.map((h, i) => {
    const from = Date.parse(h.at);
    const next = history[i + 1];
    const to = next ? Date.parse(next.at) : Math.max(from, axisEnd);
    return { status: h.status, start: Math.min(from, axisEnd), end: Math.min(to, axisEnd) };
  });
  const last = history.at(-1)!;
  const open = ['running', 'awaiting', 'unknown'].includes(last.status);
  const continues = open || Date.parse(last.at) > axisEnd;
  return { effect, row, segments: segments.filter((s) => s.end >= s.start), continues };
}

/** Every graft into a call of this turn: a link from the effect to the call. */
function linksOf(lanes: Lane[], effects: Map<string, EffectView>, axisStart: number): GraftLink[] {
  const laneOfEffect = new Map<string, number>();
  for (const lane of lanes) for (const bar of lane.effects) laneOfEffect.set(bar.effect.id, lane.index);
  const links: GraftLink[] = [];
  for (const lane of lanes)
    for (const bar of lane.calls)
      for (const graft of bar.call.grafts) {
        const effect = effects.get(graft.effectId);
        const told = effect?.history
          .filter((h) => h.status === graft.status && Date.parse(h.at) <= bar.start)
          .at(-1);
        const fromAt = told ? Date.parse(told.at) : effect ? Date.parse(effect.startedAt) : axisStart;
        links.push({
          effectId: graft.effectId,
          status: graft.status,
          callId: bar.call.id,
          toLane: lane.index,
          fromLane: laneOfEffect.get(graft.effectId) ?? null,
          fromAt: Math.max(axisStart, fromAt),
          toAt: bar.start,
        });
      }
  return links;
}

/** Ticks for an axis of `spanMs`: about `count` round steps (1, 2, 5 × a power of ten ms). */
export function ticks(spanMs: number, count = 6): number[] {
  const raw = Math.max(1, spanMs / count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= raw) ?? 10 * power;
  const out: number[] = [];
  for (let t = 0; t <= spanMs + 1e-9; t += step) out.push(t);
  return out;
}

/** `+1.25 s`, `+340 ms`: a time on a turn's axis. */
export function offsetLabel(offsetMs: number): string {
  if (offsetMs === 0) return '0';
  return offsetMs >= 1000
    ? `+${(offsetMs / 1000).toFixed(offsetMs % 1000 === 0 ? 0 : 1)} s`
    : `+${Math.round(offsetMs)} ms`;
}
