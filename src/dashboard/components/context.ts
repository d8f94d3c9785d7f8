import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from '../api.js';
import type { LiveFeed } from '../live.js';

/** What every view of the dashboard shares: the API client, the live feed, who the operator is. */
export interface Session {
  api: Api;
  feed: LiveFeed;
  /** The name recorded with a person's acts (approvals, takeovers, resolutions). */
  operator: string;
  /** Whether this service is the demo (it has `GET /v1/demo/orders`). */
  demo: boolean;
  /** Shows a failure (or a notice) in the page's alert region. */
  report: (message: string) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession outside a signed-in dashboard');
  return session;
}

/** The message of an error, for a person. */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
