import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ConversationSummary } from '../../server/view.js';
import { ago, plural, short } from '../format.js';
import { coalesce } from '../live.js';
import { conversationHref } from './app.js';
import { messageOf, useSession } from './context.js';

/** At most this many pages of 100 are read for the list. */
const MAX_PAGES = 10;

type Filter = 'all' | 'person' | 'approval' | 'bot' | 'unknown' | 'rest';

const FILTERS: { value: Filter; label: string }[] = [
  { value: 'all', label: 'All' },
  { value: 'person', label: 'Waiting for a person' },
  { value: 'approval', label: 'Waiting for approval' },
  { value: 'bot', label: 'Bot answering' },
  { value: 'unknown', label: 'Unknown effects' },
  { value: 'rest', label: 'At rest' },
];

function matches(summary: ConversationSummary, filter: Filter, search: string): boolean {
  if (filter === 'person' && summary.waitingFor !== 'person') return false;
  if (filter === 'approval' && summary.waitingFor !== 'approval') return false;
  if (filter === 'bot' && summary.waitingFor !== 'bot') return false;
  if (filter === 'unknown' && summary.effects.unknown === 0) return false;
  if (filter === 'rest' && summary.waitingFor !== null) return false;
  if (search === '') return true;
  const needle = search.toLowerCase();
  return (
    summary.id.toLowerCase().includes(needle) || (summary.last?.text.toLowerCase().includes(needle) ?? false)
  );
}

const WAITING_LABEL: Record<string, string> = {
  bot: 'bot',
  person: 'person',
  approval: 'approval',
};

/** The tenant's conversations, kept live from the tenant's event stream, with a filter and a search. */
export function ConversationList({ selected }: { selected: string | null }) {
  const { api, feed, report } = useSession();
  const [summaries, setSummaries] = useState<Map<string, ConversationSummary>>(new Map());
  const [loaded, setLoaded] = useState(false);
  const [filter, setFilter] = useState<Filter>('all');
  const [search, setSearch] = useState('');
  const refreshers = useRef(new Map<string, () => void>());

  useEffect(() => {
    let stopped = false;
    const loadAll = coalesce(async () => {
      const all = new Map<string, ConversationSummary>();
      let cursor: string | null = null;
      try {
        for (let page = 0; page < MAX_PAGES; page += 1) {
          const answer = await api.conversations(cursor);
          for (const summary of answer.conversations) all.set(summary.id, summary);
          cursor = answer.nextCursor;
          if (cursor === null) break;
        }
      } catch (error) {
        report(`Could not read the conversations: ${messageOf(error)}`);
        return;
      }
      if (stopped) return;
      setSummaries(all);
      setLoaded(true);
    });
    const refresh = (id: string) => {
      let run = refreshers.current.get(id);
      if (!run) {
        run = coalesce(async () => {
          const summary = await api.summary(id);
          if (!stopped) setSummaries((current) => new Map(current).set(id, summary));
        });
        refreshers.current.set(id, run);
      }
      run();
    };
    loadAll();
    const off = feed.subscribe((notice) => {
      if (notice.kind === 'open') loadAll();
      else refresh(notice.conversationId);
    });
    return () => {
      stopped = true;
      off();
    };
  }, [api, feed, report]);

  const sorted = useMemo(
    () =>
      [...summaries.values()].sort((a, b) => (b.lastActivityAt ?? '').localeCompare(a.lastActivityAt ?? '')),
    [summaries],
  );
  const shown = sorted.filter((s) => matches(s, filter, search.trim()));
  return (
    <nav class="list" aria-labelledby="list-heading">
      <div class="list-head">
        <h2 id="list-heading">Conversations</h2>
        <a class="button" href="#/new">
          New
        </a>
      </div>
      <div class="list-tools">
        <label>
          <span class="visually-hidden">Search conversations</span>
          <input
            type="search"
            placeholder="Search id or text"
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
        </label>
        <label>
          <span class="visually-hidden">Show</span>
          <select value={filter} onChange={(e) => setFilter(e.currentTarget.value as Filter)}>
            {FILTERS.map((f) => (
              <option key={f.value} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p class="list-count" aria-live="polite">
        {loaded ? `${shown.length} of ${plural(sorted.length, 'conversation')}` : 'Loading…'}
      </p>
      <ul class="conversations">
        {shown.map((s) => (
          <li key={s.id}>
            <a
              href={conversationHref(s.id)}
              aria-current={s.id === selected ? 'page' : undefined}
              data-conversation={s.id}
            >
              <span class="row">
                <strong class="id">{s.id}</strong>
                <time dateTime={s.lastActivityAt ?? undefined}>{ago(s.lastActivityAt)}</time>
              </span>
              <span class="last">
                {s.last ? (
                  <>
                    <span class="who">
                      {s.last.from === 'customer' ? 'Customer' : s.last.from === 'bot' ? 'Bot' : 'Operator'}:
                    </span>{' '}
                    {short(s.last.text, 90)}
                  </>
                ) : (
                  '—'
                )}
              </span>
              <span class="row badges">
                {s.waitingFor ? (
                  <span class={`badge waiting-${s.waitingFor}`}>waits for {WAITING_LABEL[s.waitingFor]}</span>
                ) : (
                  <span class="badge rest">at rest</span>
                )}
                {s.takenOver && <span class="badge person">taken over by {s.takenOver}</span>}
                {s.effects.unknown > 0 && (
                  <span class="badge unknown">{plural(s.effects.unknown, 'unknown effect')}</span>
                )}
                <span class="counts">
                  {plural(s.messages, 'message')} · {plural(s.replies, 'reply').replace('replys', 'replies')}{' '}
                  · {plural(s.attempts, 'attempt')} · {plural(s.effects.total, 'effect')}
                </span>
              </span>
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
