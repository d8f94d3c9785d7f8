import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ConversationView, EffectView, ReplyView } from '../../server/view.js';
import type { DemoOrder } from '../api.js';
import { ApiFailure } from '../api.js';
import { clock, dateTime, plural, pretty, short } from '../format.js';
import { coalesce } from '../live.js';
import { layoutTurn, turnsOf } from '../timeline.js';
import { Composer } from './composer.js';
import { messageOf, useSession } from './context.js';
import type { Selection } from './detail.js';
import { Detail } from './detail.js';
import { Legend, TurnTree } from './tree.js';

/** A conversation's view, read again on every notice of the live feed that concerns it. */
function useConversation(id: string | null) {
  const { api, feed, demo, report } = useSession();
  const [view, setView] = useState<ConversationView | null>(null);
  const [missing, setMissing] = useState(false);
  const [orders, setOrders] = useState<DemoOrder[] | null>(null);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (id === null) return;
    let stopped = false;
    const load = coalesce(async () => {
      try {
        const [next, allOrders] = await Promise.all([api.conversation(id), demo ? api.demoOrders() : null]);
        if (stopped) return;
        setView(next);
        setMissing(false);
        setNow(Date.now());
        setOrders(allOrders?.filter((o) => o.conversationId === id) ?? null);
      } catch (error) {
        if (stopped) return;
        if (error instanceof ApiFailure && error.status === 404) setMissing(true);
        else report(`Could not read conversation ${id}: ${messageOf(error)}`);
      }
    });
    load();
    const off = feed.subscribe((notice) => {
      if (notice.kind === 'open' || notice.conversationId === id) load();
    });
    return () => {
      stopped = true;
      off();
    };
  }, [id, api, feed, demo, report]);
  // While something runs, the axis ends at now: move it on.
  const running = view?.attempts.some((a) => a.status === 'live') ?? false;
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [running]);
  return { view, missing, orders, now };
}

/** Opens a conversation (the page of a new one, once its first message is sent). */
const open = (id: string): void => {
  location.hash = `#/c/${encodeURIComponent(id)}`;
};

/** One conversation: header and operator actions, transcript, composer, branch trees, ledger. */
export function ConversationPage({ id }: { id: string | null }) {
  const current = id;
  const { view, missing, orders, now } = useConversation(current);
  const [selection, setSelection] = useState<Selection | null>(null);
  const returnFocus = useRef<Element | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [id]);
  const select = useCallback((next: Selection | null) => {
    if (next !== null) returnFocus.current = document.activeElement;
    setSelection(next);
    if (next === null && returnFocus.current instanceof HTMLElement) returnFocus.current.focus();
    if (next === null && returnFocus.current instanceof SVGElement) returnFocus.current.focus();
  }, []);
  const turns = useMemo(() => (view ? turnsOf(view).map((t) => layoutTurn(view, t, now)) : []), [view, now]);

  if (current === null)
    return (
      <section class="conversation" aria-labelledby="conversation-heading">
        <h2 id="conversation-heading" ref={heading} tabIndex={-1}>
          New conversation
        </h2>
        <Composer conversationId={null} takenOver={false} onCreated={open} />
      </section>
    );
  return (
    <div class={`conversation-layout ${selection ? 'with-detail' : ''}`}>
      <section class="conversation" aria-labelledby="conversation-heading">
        <p class="back">
          <a href="#/">← Conversations</a>
        </p>
        <h2 id="conversation-heading" ref={heading} tabIndex={-1}>
          Conversation <span class="id">{current}</span>
        </h2>
        {missing && !view && <p>No messages yet in this conversation.</p>}
        {view && <Summary view={view} />}
        {view && <OperatorActions view={view} />}
        {view && <Approvals view={view} />}
        <h3>Transcript</h3>
        {view ? <Transcript view={view} onSelect={select} /> : !missing && <p>Loading…</p>}
        <Composer conversationId={current} takenOver={view?.takenOver != null} onCreated={() => undefined} />
        {orders && <Orders orders={orders} />}
        {view && turns.length > 0 && (
          <section aria-labelledby="branches-heading" class="branches">
            <h3 id="branches-heading">Branches</h3>
            <Legend />
            {turns.map((layout) => (
              <TurnTree
                key={layout.turn}
                layout={layout}
                view={view}
                onSelect={select}
                selection={selection}
              />
            ))}
          </section>
        )}
        {view && <Ledger view={view} onSelect={select} />}
      </section>
      {selection && view && (
        <Detail view={view} selection={selection} onClose={() => select(null)} onSelect={select} />
      )}
    </div>
  );
}

function Summary({ view }: { view: ConversationView }) {
  const calls = view.attempts.reduce((n, a) => n + a.modelCalls.length, 0);
  const superseded = view.attempts.filter((a) => a.status === 'superseded').length;
  const live = view.attempts.some((a) => a.status === 'live');
  return (
    <p class="summary">
      {plural(view.messages.length, 'message')} · {view.replies.length}{' '}
      {view.replies.length === 1 ? 'reply' : 'replies'} · {plural(view.attempts.length, 'attempt')} (
      {superseded} superseded) · {plural(calls, 'model call')} · {plural(view.effects.length, 'effect')}
      {live && <span class="badge waiting-bot"> answering</span>}
      {view.takenOver && (
        <span class="badge person">
          taken over by {view.takenOver.operator} since {clock(view.takenOver.since)}
        </span>
      )}
    </p>
  );
}

/** Take over, release: a person's hold on the conversation. */
function OperatorActions({ view }: { view: ConversationView }) {
  const { api, operator, report } = useSession();
  const [busy, setBusy] = useState(false);
  const act = async (work: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await work();
    } catch (error) {
      report(messageOf(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="actions" role="group" aria-label="Operator actions">
      {view.takenOver ? (
        <button type="button" disabled={busy} onClick={() => void act(() => api.release(view.id))}>
          Release to the bot
        </button>
      ) : (
        <button type="button" disabled={busy} onClick={() => void act(() => api.takeOver(view.id, operator))}>
          Take over as {operator}
        </button>
      )}
    </div>
  );
}

/** The conversation's writes that wait for a person's decision. */
function Approvals({ view }: { view: ConversationView }) {
  const waiting = view.effects.filter((e) => e.status === 'awaiting' && e.approval?.decision === null);
  if (waiting.length === 0) return null;
  return (
    <section class="approvals" aria-labelledby="approvals-heading">
      <h3 id="approvals-heading">Waiting for approval</h3>
      <ul>
        {waiting.map((effect) => (
          <li key={effect.id}>
            <span>
              <strong>{effect.tool}</strong> <code>{short(effect.arguments, 60)}</code> ({effect.id}), until{' '}
              {dateTime(effect.approval!.expiresAt)}
            </span>
            <Decide conversationId={view.id} effect={effect} />
          </li>
        ))}
      </ul>
    </section>
  );
}

const replyAuthor = (reply: ReplyView): string =>
  reply.kind === 'operator'
    ? `${reply.operator ?? 'Operator'} (person)`
    : reply.kind === 'follow-up'
      ? 'Bot · follow-up'
      : reply.kind === 'fallback'
        ? 'Bot · fallback'
        : 'Bot';

/** Customer messages and replies, in time order; new ones are announced (a live log). */
function Transcript({ view, onSelect }: { view: ConversationView; onSelect: (s: Selection) => void }) {
  const list = useRef<HTMLOListElement>(null);
  const count = view.messages.length + view.replies.length;
  // New messages scroll into view, unless the reader scrolled up to read older ones.
  const atEnd = useRef(true);
  useEffect(() => {
    const element = list.current;
    if (element && atEnd.current) element.scrollTop = element.scrollHeight;
  }, [count]);
  const entries = [
    ...view.messages.map((m) => ({ at: m.receivedAt, key: `m:${m.id}`, message: m, reply: null })),
    ...view.replies.map((r) => ({ at: r.committedAt, key: `r:${r.id}`, message: null, reply: r })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  return (
    <div role="log" aria-label="Transcript" aria-live="polite">
      <ol
        class="transcript"
        ref={list}
        onScroll={(e) => {
          const element = e.currentTarget;
          atEnd.current = element.scrollHeight - element.scrollTop - element.clientHeight < 40;
        }}
      >
        {entries.map((entry) =>
          entry.message ? (
            <li key={entry.key} class="bubble customer" data-message={entry.message.id}>
              <span class="meta">
                Customer · {entry.message.id} · <time dateTime={entry.at}>{clock(entry.at)}</time>
                {entry.message.coveredBy === null && ' · waiting'}
              </span>
              <span class="text">{entry.message.text}</span>
            </li>
          ) : (
            <li key={entry.key} class={`bubble reply kind-${entry.reply.kind}`} data-reply={entry.reply.id}>
              <span class="meta">
                {replyAuthor(entry.reply)} · <time dateTime={entry.at}>{clock(entry.at)}</time> ·{' '}
                {entry.reply.status}
                {entry.reply.needsHuman && ' · needs a person'} · covers{' '}
                {entry.reply.covers.join(', ') || '—'}{' '}
                <button
                  type="button"
                  class="link"
                  onClick={() => onSelect({ kind: 'reply', replyId: entry.reply.id })}
                >
                  details
                </button>
              </span>
              <span class="text">{entry.reply.text}</span>
            </li>
          ),
        )}
      </ol>
    </div>
  );
}

/** The effect ledger, with what a person may do about each write. */
function Ledger({ view, onSelect }: { view: ConversationView; onSelect: (s: Selection) => void }) {
  return (
    <section class="ledger" aria-labelledby="ledger-heading">
      <h3 id="ledger-heading">Effect ledger</h3>
      {view.effects.length === 0 ? (
        <p>No writes yet.</p>
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Effect</th>
                <th scope="col">Tool and arguments</th>
                <th scope="col">Status</th>
                <th scope="col">Attempt</th>
                <th scope="col">Started</th>
                <th scope="col">Result or note</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {view.effects.map((effect) => (
                <tr key={effect.id} data-effect={effect.id}>
                  <th scope="row">
                    <button
                      type="button"
                      class="link"
                      onClick={() => onSelect({ kind: 'effect', effectId: effect.id })}
                    >
                      {effect.id}
                    </button>
                  </th>
                  <td>
                    <strong>{effect.tool}</strong> <code>{short(effect.arguments, 70)}</code>
                  </td>
                  <td>
                    <span class={`status status-${effect.status}`}>{effect.status}</span>
                  </td>
                  <td>{effect.attemptId}</td>
                  <td>
                    <time dateTime={effect.startedAt}>{clock(effect.startedAt)}</time>
                  </td>
                  <td>
                    {effect.result !== null && (
                      <code title={pretty(effect.result)}>{short(effect.result, 70)}</code>
                    )}
                    {effect.note && <span class="note">{effect.note}</span>}
                  </td>
                  <td>
                    {effect.status === 'awaiting' && effect.approval?.decision === null && (
                      <Decide conversationId={view.id} effect={effect} />
                    )}
                    {effect.status === 'unknown' && <Resolve conversationId={view.id} effect={effect} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** A person's decision on a request for approval: approve or reject, with an optional note. */
function Decide({ conversationId, effect }: { conversationId: string; effect: EffectView }) {
  const { api, operator } = useSession();
  const decide = (decision: 'approve' | 'reject') => (note: string) =>
    api.decide(`${conversationId}:${effect.id}`, decision, operator, note);
  return (
    <NoteActions
      effectId={effect.id}
      actions={[
        { label: 'Approve', act: decide('approve') },
        { label: 'Reject', act: decide('reject'), danger: true },
      ]}
    />
  );
}

/** A person settles a write of unknown outcome that `reconcile` could not. */
function Resolve({ conversationId, effect }: { conversationId: string; effect: EffectView }) {
  const { api, operator } = useSession();
  const resolve = (outcome: 'done' | 'failed') => (note: string) =>
    api.resolve(conversationId, effect.id, outcome, operator, note);
  return (
    <NoteActions
      effectId={effect.id}
      actions={[
        { label: 'It happened', act: resolve('done') },
        { label: 'It did not', act: resolve('failed') },
      ]}
    />
  );
}

/** Buttons that act on an effect with an optional note; an act's failure is reported, the buttons wait for it. */
function NoteActions({
  effectId,
  actions,
}: {
  effectId: string;
  actions: { label: string; act: (note: string) => Promise<unknown>; danger?: boolean }[];
}) {
  const { report } = useSession();
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const run = async (act: (note: string) => Promise<unknown>) => {
    setBusy(true);
    try {
      await act(note.trim());
    } catch (error) {
      report(messageOf(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="decide">
      <label>
        <span class="visually-hidden">Note on {effectId}</span>
        <input
          placeholder="Note (optional)"
          value={note}
          maxLength={2000}
          onInput={(e) => setNote(e.currentTarget.value)}
        />
      </label>
      {actions.map(({ label, act, danger }) => (
        <button
          key={label}
          type="button"
          {...(danger ? { class: 'danger' } : {})}
          disabled={busy}
          onClick={() => void run(act)}
        >
          {label}
        </button>
      ))}
    </span>
  );
}

/** The demo shop's orders of this conversation: the ground truth. */
function Orders({ orders }: { orders: DemoOrder[] }) {
  return (
    <section class="orders" aria-labelledby="orders-heading">
      <h3 id="orders-heading">Shop orders ({orders.length})</h3>
      {orders.length === 0 ? (
        <p>No order in the shop for this conversation.</p>
      ) : (
        <ul>
          {orders.map((o) => (
            <li key={o.orderId} data-order={o.orderId}>
              <strong>{o.orderId}</strong> · {o.status} ·{' '}
              {o.items.map((i) => `${i.quantity} × ${i.product}`).join(', ')}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
