import type { JSX, RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConversationView } from '../../server/view.js';
import { clock, duration, short } from '../format.js';
import type { CallBar, EffectBar, GraftLink, Lane, ToolMark, TurnLayout } from '../timeline.js';
import { offsetLabel, ticks } from '../timeline.js';
import type { Selection } from './detail.js';
import { sameSelection } from './detail.js';

const LABEL_W = 156;
const RIGHT_W = 28;
const TOP_H = 50;
const CALL_Y = 6;
const CALL_H = 18;
const EFFECT_Y = 32;
const EFFECT_ROW = 24;
const EFFECT_H = 8;
const MIN_W = 560;
const STATUSES = ['awaiting', 'running', 'done', 'failed', 'unknown'] as const;

const laneHeight = (lane: Lane): number => Math.max(44, EFFECT_Y + lane.effects.length * EFFECT_ROW + 8);

/** The width of an element, kept up to date as the layout changes. */
function useWidth(): [RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(800);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    setWidth(element.clientWidth || 800);
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setWidth(Math.round(entry.contentRect.width));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

interface Props {
  layout: TurnLayout;
  view: ConversationView;
  selection: Selection | null;
  onSelect: (selection: Selection) => void;
}

/**
 * The branch tree of a turn on a time axis: attempts as lanes, model calls as bars (reason and
 * outcome), tool calls as marks, effects as bars coloured by their status over time, grafts as
 * links from an effect to each call that received it. Every element can be focused and opened.
 */
export function TurnTree({ layout, view, selection, onSelect }: Props) {
  const [box, measured] = useWidth();
  const width = Math.max(MIN_W, measured);
  const plot = width - LABEL_W - RIGHT_W;
  const span = layout.end - layout.start;
  const x = (t: number) =>
    LABEL_W + ((Math.min(Math.max(t, layout.start), layout.end) - layout.start) / span) * plot;
  const laneY: number[] = [];
  let y = TOP_H;
  for (const lane of layout.lanes) {
    laneY.push(y);
    y += laneHeight(lane);
  }
  const height = y + 6;
  const titleId = `turn-${layout.turn}-title`;
  const superseded = layout.lanes.filter((l) => l.attempt.status === 'superseded').length;
  const item = (
    s: Selection,
    label: string,
    className: string,
    children: JSX.Element | JSX.Element[],
    extra: Record<string, string> = {},
  ) => (
    <g
      class={`item ${className} ${selection && sameSelection(selection, s) ? 'selected' : ''}`}
      role="button"
      // Lower case: on an SVG element, preact sets the attribute as written.
      tabindex={0}
      aria-label={label}
      onClick={() => onSelect(s)}
      onKeyDown={(e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          onSelect(s);
        }
      }}
      {...extra}
    >
      <title>{label}</title>
      {children}
    </g>
  );
  return (
    <section class="turn" aria-labelledby={titleId} data-turn={layout.turn}>
      <h4 id={titleId}>
        Turn {layout.turn}
        <span class="turn-meta">
          {' '}
          · {layout.lanes.length} attempt{layout.lanes.length === 1 ? '' : 's'}
          {superseded > 0 && ` (${superseded} superseded)`} · {duration(span)}
          {layout.reply
            ? ` · ${layout.reply.kind} ${layout.reply.status}`
            : layout.live
              ? ' · answering'
              : ' · open'}
        </span>
      </h4>
      <div class="tree-scroll" ref={box}>
        <svg
          class="tree"
          width={width}
          height={height}
          viewBox={`0 0 ${width} ${height}`}
          role="group"
          aria-labelledby={titleId}
        >
          <title>
            Turn {layout.turn}: {layout.lanes.length} attempts on a time axis of {duration(span)}
          </title>
          <ArrowMarkers />
          <Axis layout={layout} x={x} height={height} />
          {layout.messages.map((m, i) =>
            item(
              { kind: 'message', messageId: m.id },
              `message ${m.id} at ${clock(m.receivedAt)}: ${short(m.text, 60)}`,
              'message-mark',
              [
                <circle key="c" cx={x(Date.parse(m.receivedAt))} cy={12} r={6} />,
                ...(roomAfter(layout, i, x) > 40
                  ? [
                      <text key="t" x={x(Date.parse(m.receivedAt)) + 8} y={16} class="mark-label">
                        {clip(m.id, Math.floor((roomAfter(layout, i, x) - 12) / 6))}
                      </text>,
                    ]
                  : []),
              ],
            ),
          )}
          {layout.reply &&
            item(
              { kind: 'reply', replyId: layout.reply.id },
              `${layout.reply.kind} ${layout.reply.id} committed at ${clock(layout.reply.committedAt)}`,
              'reply-mark',
              <path d={diamond(x(Date.parse(layout.reply.committedAt)), 12, 7)} />,
            )}
          {layout.lanes.map((lane, i) => (
            <LaneView key={lane.attempt.id} lane={lane} top={laneY[i]!} x={x} item={item} />
          ))}
          {layout.links.map((link) => (
            <Link
              key={`${link.effectId}-${link.callId}`}
              link={link}
              layout={layout}
              laneY={laneY}
              x={x}
              item={item}
            />
          ))}
        </svg>
      </div>
      <TurnAsList layout={layout} view={view} />
    </section>
  );
}

type Item = (
  s: Selection,
  label: string,
  className: string,
  children: JSX.Element | JSX.Element[],
  extra?: Record<string, string>,
) => JSX.Element;

function Axis({ layout, x, height }: { layout: TurnLayout; x: (t: number) => number; height: number }) {
  return (
    <g class="axis" aria-hidden="true">
      {ticks(layout.end - layout.start).map((offset) => (
        <g key={offset}>
          <line x1={x(layout.start + offset)} x2={x(layout.start + offset)} y1={TOP_H - 16} y2={height - 4} />
          <text x={x(layout.start + offset)} y={TOP_H - 20}>
            {offsetLabel(offset)}
          </text>
        </g>
      ))}
      <text x={4} y={TOP_H - 20} class="axis-start">
        {clock(new Date(layout.start).toISOString())}
      </text>
    </g>
  );
}

function LaneView({ lane, top, x, item }: { lane: Lane; top: number; x: (t: number) => number; item: Item }) {
  const { attempt } = lane;
  const status = attempt.supersededBy ? `superseded by ${attempt.supersededBy}` : attempt.status;
  const label = `attempt ${attempt.id}, ${status}${attempt.reason === 'follow-up' ? ', follow-up' : ''}${attempt.rebases > 0 ? `, ${attempt.rebases} rebase${attempt.rebases > 1 ? 's' : ''}` : ''}, from ${attempt.basedOn ? attempt.basedOn.callId : 'the start'}`;
  return (
    <g class={`lane lane-${attempt.status}`} data-attempt={attempt.id} data-attempt-status={attempt.status}>
      {item({ kind: 'attempt', attemptId: attempt.id }, label, 'lane-label', [
        <rect
          key="band"
          class="band"
          x={x(lane.start)}
          y={top + 2}
          width={Math.max(2, x(lane.end) - x(lane.start))}
          height={laneHeight(lane) - 4}
          rx={4}
        />,
        <text key="id" x={6} y={top + 16} class="lane-id">
          {attempt.id}
        </text>,
        <text key="status" x={6} y={top + 30} class="lane-status">
          {status.length > 24 ? `${status.slice(0, 23)}…` : status}
        </text>,
      ])}
      {lane.calls.map((bar) => (
        <Call key={bar.call.id} bar={bar} top={top} x={x} item={item} />
      ))}
      {lane.effects.map((bar) => (
        <Effect key={bar.effect.id} bar={bar} top={top} x={x} item={item} />
      ))}
    </g>
  );
}

function Call({ bar, top, x, item }: { bar: CallBar; top: number; x: (t: number) => number; item: Item }) {
  const { call } = bar;
  const x1 = x(bar.start);
  const w = Math.max(5, x(bar.end) - x1);
  const rebase = call.reason === 'rebase';
  const label = `model call ${call.id}, ${call.reason}, ${bar.outcome}${call.failure ? ` (${call.failure.kind})` : ''}, ${duration(bar.end - bar.start)}${call.usage ? `, ${call.usage.inputTokens} in / ${call.usage.outputTokens} out tokens` : ''}${call.grafts.length > 0 ? `, ${call.grafts.length} graft${call.grafts.length > 1 ? 's' : ''}` : ''}`;
  const text = rebase ? '↻ rebase' : call.reason;
  return (
    <>
      {item(
        { kind: 'call', callId: call.id },
        label,
        `call outcome-${bar.outcome} reason-${call.reason}`,
        [
          <rect key="bar" x={x1} y={top + CALL_Y} width={w} height={CALL_H} rx={3} />,
          ...(w > text.length * 6.5 + 8
            ? [
                <text key="t" x={x1 + 4} y={top + CALL_Y + 13} class="call-label">
                  {text}
                </text>,
              ]
            : []),
        ],
        { 'data-call': call.id, 'data-call-outcome': bar.outcome, 'data-call-reason': call.reason },
      )}
      {bar.tools.map((mark) => (
        <Tool key={mark.tool.id} mark={mark} top={top} x={x} item={item} />
      ))}
    </>
  );
}

function Tool({ mark, top, x, item }: { mark: ToolMark; top: number; x: (t: number) => number; item: Item }) {
  const cx = x(mark.at);
  const cy = top + CALL_Y + CALL_H + 3;
  const detail =
    mark.kind === 'refused'
      ? `refused: ${short(mark.tool.detail ?? '', 80)}`
      : mark.kind === 'effect'
        ? `started effect ${mark.tool.effectId}`
        : mark.kind;
  const shape =
    mark.kind === 'refused' ? (
      <path d={`M${cx - 4},${cy - 4}L${cx + 4},${cy + 4}M${cx - 4},${cy + 4}L${cx + 4},${cy - 4}`} />
    ) : mark.kind === 'effect' ? (
      <path d={`M${cx},${cy - 5}L${cx + 5},${cy + 4}L${cx - 5},${cy + 4}Z`} />
    ) : (
      <circle cx={cx} cy={cy} r={3.5} />
    );
  return item(
    { kind: 'tool', callId: mark.callId, toolCallId: mark.tool.id },
    `tool call ${mark.tool.name} ${short(mark.tool.arguments, 40)}: ${detail}`,
    `tool tool-${mark.kind}`,
    shape,
    { 'data-tool': mark.tool.id, 'data-tool-kind': mark.kind },
  );
}

function Effect({
  bar,
  top,
  x,
  item,
}: {
  bar: EffectBar;
  top: number;
  x: (t: number) => number;
  item: Item;
}) {
  const y = top + EFFECT_Y + bar.row * EFFECT_ROW;
  const { effect } = bar;
  const history = effect.history.map((h) => `${h.status} at ${clock(h.at)}`).join(', then ');
  const last = bar.segments.at(-1);
  const end = last ? x(last.end) : x(Date.parse(effect.startedAt));
  return item(
    { kind: 'effect', effectId: effect.id },
    `effect ${effect.id} ${effect.tool}: ${history || effect.status}`,
    'effect',
    [
      ...bar.segments.map((s, i) => (
        <rect
          key={i}
          class={`seg status-${s.status}`}
          x={x(s.start)}
          y={y}
          width={Math.max(3, x(s.end) - x(s.start))}
          height={EFFECT_H}
          rx={2}
        />
      )),
      ...(bar.continues
        ? [
            <path
              key="more"
              class="continues"
              d={`M${end + 3},${y}L${end + 9},${y + EFFECT_H / 2}L${end + 3},${y + EFFECT_H}Z`}
            />,
          ]
        : []),
      <text key="label" x={x(Date.parse(effect.startedAt))} y={y + EFFECT_H + 11} class="effect-label">
        {effect.tool} {effect.id} · {effect.status}
      </text>,
    ],
    { 'data-effect': effect.id, 'data-effect-status': effect.status },
  );
}

function Link({
  link,
  layout,
  laneY,
  x,
  item,
}: {
  link: GraftLink;
  layout: TurnLayout;
  laneY: number[];
  x: (t: number) => number;
  item: Item;
}) {
  const toLane = layout.lanes[link.toLane]!;
  const x2 = x(link.toAt);
  const y2 = laneY[link.toLane]! + CALL_Y + CALL_H / 2;
  let x1: number;
  let y1: number;
  if (link.fromLane === null) {
    x1 = LABEL_W;
    y1 = laneY[link.toLane]! + 2;
  } else {
    const lane = layout.lanes[link.fromLane]!;
    const row = lane.effects.find((e) => e.effect.id === link.effectId)?.row ?? 0;
    x1 = x(link.fromAt);
    y1 = laneY[link.fromLane]! + EFFECT_Y + row * EFFECT_ROW + EFFECT_H / 2;
  }
  const dx = Math.max(18, Math.abs(x2 - x1) / 2);
  const d = `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
  const from = link.fromLane === null ? ' from another turn' : '';
  return item(
    { kind: 'graft', effectId: link.effectId, callId: link.callId },
    `graft of effect ${link.effectId}${from} into ${link.callId} of ${toLane.attempt.id}, told ${link.status}`,
    `graft status-${link.status}`,
    [
      <path key="hit" class="hit" d={d} />,
      <path key="line" class="line" d={d} markerEnd={`url(#arrow-${link.status})`} />,
    ],
    { 'data-graft': link.effectId, 'data-graft-call': link.callId },
  );
}

function ArrowMarkers() {
  return (
    <defs>
      {STATUSES.map((status) => (
        <marker
          key={status}
          id={`arrow-${status}`}
          class={`arrow status-${status}`}
          viewBox="0 0 10 10"
          refX={9}
          refY={5}
          markerWidth={7}
          markerHeight={7}
          orient="auto-start-reverse"
        >
          <path d="M0,0L10,5L0,10Z" />
        </marker>
      ))}
    </defs>
  );
}

/** Pixels from message `i`'s mark to the next message's (or the end of the plot). */
function roomAfter(layout: TurnLayout, i: number, x: (t: number) => number): number {
  const at = x(Date.parse(layout.messages[i]!.receivedAt));
  const next = layout.messages[i + 1];
  return (next ? x(Date.parse(next.receivedAt)) : x(layout.end) + RIGHT_W) - at;
}

const clip = (text: string, max: number): string =>
  text.length > max ? `${text.slice(0, Math.max(1, max - 1))}…` : text;

const diamond = (cx: number, cy: number, r: number): string =>
  `M${cx},${cy - r}L${cx + r},${cy}L${cx},${cy + r}L${cx - r},${cy}Z`;

/** The same turn as a nested list, for reading without the drawing. */
function TurnAsList({ layout, view }: { layout: TurnLayout; view: ConversationView }) {
  const effects = new Map(view.effects.map((e) => [e.id, e]));
  return (
    <details class="as-list">
      <summary>Turn {layout.turn} as a list</summary>
      <ul>
        {layout.messages.map((m) => (
          <li key={m.id}>
            message {m.id} at {clock(m.receivedAt)}: “{short(m.text, 80)}”
          </li>
        ))}
        {layout.lanes.map((lane) => (
          <li key={lane.attempt.id}>
            attempt {lane.attempt.id} ·{' '}
            {lane.attempt.supersededBy ? `superseded by ${lane.attempt.supersededBy}` : lane.attempt.status} ·
            from {lane.attempt.basedOn ? lane.attempt.basedOn.callId : 'the start'}
            <ul>
              {lane.calls.map((bar) => (
                <li key={bar.call.id}>
                  call {bar.call.id} · {bar.call.reason} · {bar.outcome} · {duration(bar.end - bar.start)}
                  {(bar.call.grafts.length > 0 || bar.tools.length > 0) && (
                    <ul>
                      {bar.call.grafts.map((g) => (
                        <li key={`g-${g.effectId}`}>
                          graft {g.effectId} ({g.status})
                        </li>
                      ))}
                      {bar.tools.map((t) => (
                        <li key={t.tool.id}>
                          {t.tool.name} {short(t.tool.arguments, 50)} →{' '}
                          {t.kind === 'effect'
                            ? `effect ${t.tool.effectId} (${effects.get(t.tool.effectId ?? '')?.status ?? '?'})`
                            : t.kind === 'refused'
                              ? `refused: ${short(t.tool.detail ?? '', 60)}`
                              : t.kind}
                        </li>
                      ))}
                    </ul>
                  )}
                </li>
              ))}
            </ul>
          </li>
        ))}
        {layout.reply && (
          <li>
            {layout.reply.kind} {layout.reply.id}: “{short(layout.reply.text, 100)}”
          </li>
        )}
      </ul>
    </details>
  );
}

/** What the shapes and colours of the branch trees mean. */
export function Legend() {
  return (
    <ul class="legend" aria-label="Legend">
      <li>
        <span class="swatch call outcome-responded" /> model call (responded)
      </li>
      <li>
        <span class="swatch call outcome-aborted" /> aborted
      </li>
      <li>
        <span class="swatch call outcome-failed" /> failed
      </li>
      <li>
        <span class="swatch call outcome-pending" /> waiting for the model
      </li>
      <li>
        <span class="swatch tool tool-effect">▲</span> write started
      </li>
      <li>
        <span class="swatch tool tool-refused">✕</span> refused
      </li>
      {STATUSES.map((s) => (
        <li key={s}>
          <span class={`swatch seg status-${s}`} /> effect {s}
        </li>
      ))}
      <li>
        <span class="swatch graft-line" /> graft (effect → call)
      </li>
    </ul>
  );
}
