import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConversationView, ModelCallDetail, ModelCallView } from '../../server/view.js';
import { clock, dateTime, duration, pretty, short } from '../format.js';
import { callOutcome } from '../timeline.js';
import { messageOf, useSession } from './context.js';

/** What the detail panel shows: an element of the branch tree, the transcript or the ledger. */
export type Selection =
  | { kind: 'call'; callId: string }
  | { kind: 'tool'; callId: string; toolCallId: string }
  | { kind: 'effect'; effectId: string }
  | { kind: 'graft'; effectId: string; callId: string }
  | { kind: 'attempt'; attemptId: string }
  | { kind: 'message'; messageId: string }
  | { kind: 'reply'; replyId: string };

export const sameSelection = (a: Selection, b: Selection): boolean => JSON.stringify(a) === JSON.stringify(b);

const calls = (view: ConversationView): ModelCallView[] => view.attempts.flatMap((a) => a.modelCalls);

/** The panel beside the conversation (below it on a phone); Escape closes it. */
export function Detail({
  view,
  selection,
  onClose,
  onSelect,
}: {
  view: ConversationView;
  selection: Selection;
  onClose: () => void;
  onSelect: (s: Selection) => void;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [selection]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <aside class="detail" aria-labelledby="detail-heading">
      <div class="detail-head">
        <h3 id="detail-heading" ref={heading} tabIndex={-1}>
          {title(selection)}
        </h3>
        <button type="button" class="link close" onClick={onClose} aria-label="Close the detail">
          ×
        </button>
      </div>
      <Body view={view} selection={selection} onSelect={onSelect} />
    </aside>
  );
}

function title(s: Selection): string {
  switch (s.kind) {
    case 'call':
      return `Model call ${s.callId}`;
    case 'tool':
      return `Tool call ${s.toolCallId}`;
    case 'effect':
      return `Effect ${s.effectId}`;
    case 'graft':
      return `Graft of ${s.effectId} into ${s.callId}`;
    case 'attempt':
      return `Attempt ${s.attemptId}`;
    case 'message':
      return `Message ${s.messageId}`;
    case 'reply':
      return `Reply ${s.replyId}`;
  }
}

function Fields({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="fields">
      {rows.map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd>{value ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}

function Body({
  view,
  selection,
  onSelect,
}: {
  view: ConversationView;
  selection: Selection;
  onSelect: (s: Selection) => void;
}) {
  const open = (s: Selection, text: string) => (
    <button type="button" class="link" onClick={() => onSelect(s)}>
      {text}
    </button>
  );
  switch (selection.kind) {
    case 'call':
      return <CallDetail view={view} callId={selection.callId} onSelect={onSelect} />;
    case 'tool': {
      const call = calls(view).find((c) => c.id === selection.callId);
      const tool = call?.toolCalls.find((t) => t.id === selection.toolCallId);
      if (!call || !tool) return <p>Not in this conversation.</p>;
      return (
        <>
          <Fields
            rows={[
              ['Tool', tool.name],
              ['Kind', tool.kind],
              ['Call', open({ kind: 'call', callId: call.id }, call.id)],
              ['Outcome', tool.outcome ?? 'unanswered'],
              [
                'Effect',
                tool.effectId ? open({ kind: 'effect', effectId: tool.effectId }, tool.effectId) : null,
              ],
              ['Answered', clock(tool.answeredAt)],
            ]}
          />
          <h4>Arguments</h4>
          <pre>{pretty(tool.arguments)}</pre>
          {tool.detail && (
            <>
              <h4>{tool.outcome === 'refused' ? 'Why refused' : 'Output'}</h4>
              <pre>{pretty(tool.detail)}</pre>
            </>
          )}
        </>
      );
    }
    case 'effect':
    case 'graft': {
      const effect = view.effects.find((e) => e.id === selection.effectId);
      if (!effect) return <p>Not in this conversation.</p>;
      const receivers = calls(view).filter((c) => c.grafts.some((g) => g.effectId === effect.id));
      return (
        <>
          {selection.kind === 'graft' && (
            <p>
              {open({ kind: 'call', callId: selection.callId }, selection.callId)} was told this effect was{' '}
              <strong>
                {calls(view)
                  .find((c) => c.id === selection.callId)
                  ?.grafts.find((g) => g.effectId === effect.id)?.status ?? '?'}
              </strong>
              : graft pairs of it were put into its context.
            </p>
          )}
          <Fields
            rows={[
              ['Tool', effect.tool],
              ['Status', <span class={`status status-${effect.status}`}>{effect.status}</span>],
              ['Attempt', open({ kind: 'attempt', attemptId: effect.attemptId }, effect.attemptId)],
              ['Asked by', open({ kind: 'call', callId: effect.callId }, effect.callId)],
              ['Key', <code>{effect.idempotencyKey}</code>],
              ['Started', clock(effect.startedAt)],
              ['Note', effect.note],
            ]}
          />
          <h4>Status over time</h4>
          <ol class="history">
            {effect.history.map((h, i) => (
              <li key={i}>
                <span class={`status status-${h.status}`}>{h.status}</span> at {clock(h.at)}
              </li>
            ))}
          </ol>
          {effect.approval && (
            <>
              <h4>Approval</h4>
              <Fields
                rows={[
                  ['Requested', clock(effect.approval.requestedAt)],
                  ['Expires', dateTime(effect.approval.expiresAt)],
                  ['Decision', effect.approval.decision ?? 'waiting'],
                  ['By', effect.approval.operator],
                  ['Note', effect.approval.note],
                ]}
              />
            </>
          )}
          <h4>Arguments</h4>
          <pre>{pretty(effect.arguments)}</pre>
          <h4>Result</h4>
          <pre>{effect.result === null ? '—' : pretty(effect.result)}</pre>
          <h4>Grafted into</h4>
          {receivers.length === 0 ? (
            <p>No other branch’s call.</p>
          ) : (
            <ul>
              {receivers.map((c) => (
                <li key={c.id}>
                  {open({ kind: 'call', callId: c.id }, c.id)} (
                  {c.grafts.find((g) => g.effectId === effect.id)?.status})
                </li>
              ))}
            </ul>
          )}
        </>
      );
    }
    case 'attempt': {
      const attempt = view.attempts.find((a) => a.id === selection.attemptId);
      if (!attempt) return <p>Not in this conversation.</p>;
      return (
        <>
          <Fields
            rows={[
              ['Turn', attempt.turn],
              ['Status', attempt.status],
              [
                'Why',
                attempt.reason === 'follow-up'
                  ? 'a follow-up (an effect settled late)'
                  : 'a customer message',
              ],
              ['Superseded by', attempt.supersededBy],
              [
                'Forked from',
                attempt.basedOn
                  ? open({ kind: 'call', callId: attempt.basedOn.callId }, attempt.basedOn.callId)
                  : 'the start',
              ],
              ['Rebases', attempt.rebases],
              ['Started', clock(attempt.startedAt)],
              ['Ended', clock(attempt.endedAt)],
            ]}
          />
          <h4>Model calls</h4>
          <ul>
            {attempt.modelCalls.map((c) => (
              <li key={c.id}>
                {open({ kind: 'call', callId: c.id }, c.id)} · {c.reason} · {callOutcome(c)}
              </li>
            ))}
          </ul>
        </>
      );
    }
    case 'message': {
      const message = view.messages.find((m) => m.id === selection.messageId);
      if (!message) return <p>Not in this conversation.</p>;
      return (
        <>
          <Fields
            rows={[
              ['Received', clock(message.receivedAt)],
              ['Log position', message.seq],
              [
                'Answered by',
                message.coveredBy
                  ? open({ kind: 'reply', replyId: message.coveredBy }, message.coveredBy)
                  : 'not yet',
              ],
            ]}
          />
          <h4>Text</h4>
          <p class="text">{message.text}</p>
          {message.metadata && <pre>{pretty(message.metadata)}</pre>}
        </>
      );
    }
    case 'reply': {
      const reply = view.replies.find((r) => r.id === selection.replyId);
      if (!reply) return <p>Not in this conversation.</p>;
      return (
        <>
          <Fields
            rows={[
              ['Kind', reply.kind],
              ['By', reply.operator ?? 'the bot'],
              ['Status', reply.status],
              ['Covers', reply.covers.join(', ')],
              ['Committed', clock(reply.committedAt)],
              ['Delivered', clock(reply.deliveredAt)],
              [
                'Attempt',
                reply.attemptId
                  ? open({ kind: 'attempt', attemptId: reply.attemptId }, reply.attemptId)
                  : null,
              ],
              ['Needs a person', reply.needsHuman ? 'yes' : 'no'],
            ]}
          />
          <h4>Text</h4>
          <p class="text">{reply.text}</p>
        </>
      );
    }
  }
}

/** A model call in full: `GET /v1/conversations/{id}/calls/{callId}`, read again as the call changes. */
function CallDetail({
  view,
  callId,
  onSelect,
}: {
  view: ConversationView;
  callId: string;
  onSelect: (s: Selection) => void;
}) {
  const { api } = useSession();
  const [detail, setDetail] = useState<ModelCallDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const summary = calls(view).find((c) => c.id === callId);
  const version = `${summary?.status}:${summary?.toolCalls.map((t) => t.outcome).join()}`;
  useEffect(() => {
    let stopped = false;
    api
      .call(view.id, callId)
      .then((d) => !stopped && (setDetail(d), setError(null)))
      .catch((e: unknown) => !stopped && setError(messageOf(e)));
    return () => {
      stopped = true;
    };
  }, [api, view.id, callId, version]);
  if (error) return <p class="error">{error}</p>;
  if (!detail || detail.id !== callId) return <p>Loading…</p>;
  const usage = detail.usage;
  return (
    <>
      <Fields
        rows={[
          ['Reason', detail.reason],
          [
            'Outcome',
            `${callOutcome(detail)}${detail.failure ? ` · ${detail.failure.kind}: ${detail.failure.message}` : ''}`,
          ],
          [
            'Attempt',
            <button
              type="button"
              class="link"
              onClick={() => onSelect({ kind: 'attempt', attemptId: detail.attemptId })}
            >
              {detail.attemptId}
            </button>,
          ],
          ['Continues', detail.parent ?? 'the empty context'],
          ['Mode', detail.stateless ? 'stateless (the whole transcript)' : 'chain (previous_response_id)'],
          ['Response', detail.responseId],
          ['Requested', clock(detail.requestedAt)],
          ['Responded', clock(detail.respondedAt)],
          ['Took', duration(detail.durationMs)],
          [
            'Tokens',
            usage
              ? `${usage.inputTokens} in (${usage.cachedInputTokens} cached) · ${usage.outputTokens} out${usage.reasoningTokens ? ` (${usage.reasoningTokens} reasoning)` : ''}`
              : null,
          ],
          ['Lineage', detail.lineage.join(' → ')],
        ]}
      />
      <h4>Input items ({detail.input.length})</h4>
      <ol class="items">
        {detail.input.map((entry, i) => (
          <li key={i}>
            <ItemView item={entry.item} />
            <span class="tags">
              {entry.messageId && <span class="tag">message {entry.messageId}</span>}
              {entry.replyId && <span class="tag">reply {entry.replyId}</span>}
              {entry.effect && (
                <span class={`tag status-${entry.effect.status}`}>
                  {entry.item.type === 'function_call_output' &&
                  (entry.item as { call_id: string }).call_id.startsWith('graft_')
                    ? 'graft '
                    : 'effect '}
                  {entry.effect.effectId} ({entry.effect.status})
                </span>
              )}
              {entry.answers && <span class="tag">answers {entry.answers}</span>}
            </span>
          </li>
        ))}
      </ol>
      <h4>Output items ({detail.output.length})</h4>
      <ol class="items">
        {detail.output.map((item, i) => (
          <li key={i}>
            <ItemView item={item} />
          </li>
        ))}
      </ol>
      {detail.toolCalls.length > 0 && (
        <>
          <h4>Tool calls</h4>
          <ul>
            {detail.toolCalls.map((t) => (
              <li key={t.id}>
                <button
                  type="button"
                  class="link"
                  onClick={() => onSelect({ kind: 'tool', callId, toolCallId: t.id })}
                >
                  {t.name}
                </button>{' '}
                <code>{short(t.arguments, 60)}</code> → {t.outcome ?? 'unanswered'}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

type AnyItem = ModelCallDetail['input'][number]['item'] | ModelCallDetail['output'][number];

/** One Responses API item, readably. */
function ItemView({ item }: { item: AnyItem }) {
  switch (item.type) {
    case 'message': {
      const text = typeof item.content === 'string' ? item.content : item.content.map((p) => p.text).join('');
      return (
        <div class="item-body">
          <span class="item-kind">{item.role} message</span>
          <p class="text">{text}</p>
        </div>
      );
    }
    case 'function_call':
      return (
        <div class="item-body">
          <span class="item-kind">function call {item.call_id}</span>
          <pre>
            {item.name}({pretty(item.arguments)})
          </pre>
        </div>
      );
    case 'function_call_output':
      return (
        <div class="item-body">
          <span class="item-kind">output of {item.call_id}</span>
          <pre>{pretty(item.output)}</pre>
        </div>
      );
    case 'reasoning':
      return (
        <div class="item-body">
          <span class="item-kind">reasoning</span>
          <p class="text">{item.summary.map((s) => s.text).join('\n') || '(encrypted)'}</p>
        </div>
      );
  }
}
