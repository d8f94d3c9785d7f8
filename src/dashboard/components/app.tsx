import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Api, ApiFailure, savedKey } from '../api.js';
import type { LiveStatus } from '../live.js';
import { LiveFeed } from '../live.js';
import { ConversationPage } from './conversation.js';
import type { Session } from './context.js';
import { SessionContext, messageOf } from './context.js';
import { ConversationList } from './list.js';

/** The route, from the location's hash: `#/c/<id>` (a conversation), `#/new`, or the list. */
type Route = { page: 'list' } | { page: 'new' } | { page: 'conversation'; id: string };

function routeOf(hash: string): Route {
  if (hash === '#/new') return { page: 'new' };
  const match = /^#\/c\/(.+)$/.exec(hash);
  if (match) {
    try {
      return { page: 'conversation', id: decodeURIComponent(match[1]!) };
    } catch {
      return { page: 'list' };
    }
  }
  return { page: 'list' };
}

export const conversationHref = (id: string): string => `#/c/${encodeURIComponent(id)}`;

function useRoute(): Route {
  const [route, setRoute] = useState(() => routeOf(location.hash));
  useEffect(() => {
    const update = () => setRoute(routeOf(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** The dashboard: the sign-in form until a key is given, then the conversations. */
export function App() {
  const [key, setKey] = useState<string | null>(() => savedKey.get());
  if (key === null)
    return (
      <SignIn
        onSignIn={(k) => {
          savedKey.set(k);
          setKey(k);
        }}
      />
    );
  return (
    <Dashboard
      apiKey={key}
      onSignOut={() => {
        savedKey.clear();
        setKey(null);
      }}
    />
  );
}

function SignIn({ onSignIn }: { onSignIn: (key: string) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (event: Event) => {
    event.preventDefault();
    const given = key.trim();
    if (given === '') return setError('Enter an API key.');
    setBusy(true);
    setError(null);
    try {
      await new Api(given).conversations(null);
      onSignIn(given);
    } catch (failure) {
      setError(
        failure instanceof ApiFailure && failure.status === 401
          ? 'That API key is not valid.'
          : `Could not sign in: ${messageOf(failure)}`,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form onSubmit={(e) => void submit(e)} aria-describedby="sign-in-help">
        <h1>graft</h1>
        <p id="sign-in-help">
          Sign in with a tenant&apos;s API key. It is kept in this tab&apos;s session storage only. The demo
          accepts <code>demo</code>.
        </p>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          ref={input}
          type="password"
          autocomplete="current-password"
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          aria-invalid={error !== null}
          aria-describedby={error ? 'sign-in-error' : undefined}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error && (
          <p id="sign-in-error" class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

const OPERATOR_STORAGE = 'graft.operator';

function Dashboard({ apiKey, onSignOut }: { apiKey: string; onSignOut: () => void }) {
  const api = useMemo(() => new Api(apiKey), [apiKey]);
  const feed = useMemo(() => new LiveFeed(api), [api]);
  const route = useRoute();
  const [status, setStatus] = useState<LiveStatus>(feed.status);
  const [demo, setDemo] = useState(false);
  const [operator, setOperator] = useState(() => sessionStorage.getItem(OPERATOR_STORAGE) ?? 'operator');
  const [alert, setAlert] = useState<{ text: string; n: number } | null>(null);
  useEffect(() => {
    const off = feed.onStatus((s) => {
      setStatus(s);
      if (s === 'unauthorized') onSignOut();
    });
    feed.start();
    api
      .demoOrders()
      .then((orders) => setDemo(orders !== null))
      .catch(() => setDemo(false));
    return () => {
      off();
      feed.stop();
    };
  }, [feed, api, onSignOut]);
  useEffect(() => {
    if (!alert) return;
    const timer = setTimeout(() => setAlert(null), 8000);
    return () => clearTimeout(timer);
  }, [alert]);
  const session: Session = useMemo(
    () => ({ api, feed, operator, demo, report: (text) => setAlert({ text, n: Date.now() }) }),
    [api, feed, operator, demo],
  );
  const selected = route.page === 'conversation' ? route.id : null;
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to the conversation
      </a>
      <header class="top">
        <h1>
          <a href="#/">graft</a>
        </h1>
        <span class={`live live-${status}`} role="status" aria-live="polite">
          {status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
        </span>
        <label class="operator">
          Operator{' '}
          <input
            value={operator}
            size={10}
            maxLength={200}
            onChange={(e) => {
              const name = e.currentTarget.value.trim() || 'operator';
              sessionStorage.setItem(OPERATOR_STORAGE, name);
              setOperator(name);
            }}
          />
        </label>
        <button type="button" class="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <div class="alerts" role="alert">
        {alert && (
          <p key={alert.n}>
            {alert.text}{' '}
            <button type="button" class="link" onClick={() => setAlert(null)} aria-label="Dismiss">
              ×
            </button>
          </p>
        )}
      </div>
      <div class={`layout ${route.page === 'list' ? 'show-list' : 'show-main'}`}>
        <ConversationList selected={selected} />
        <main id="main" tabIndex={-1}>
          {route.page === 'list' ? (
            <section class="empty">
              <h2>Conversations</h2>
              <p>Pick a conversation from the list, or start a new one.</p>
              <p>
                <a class="button" href="#/new">
                  New conversation
                </a>
              </p>
            </section>
          ) : (
            <ConversationPage key={selected ?? '#new'} id={selected} />
          )}
        </main>
      </div>
    </SessionContext.Provider>
  );
}
