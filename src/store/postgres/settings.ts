/**
 * How the PostgreSQL store connects and how long it waits: shared by `PostgresStore.open` and by
 * `openStore`, whose types name no driver (so this file imports none).
 */
export interface PostgresSettings {
  /** The schema that holds graft's tables (created if missing). Default `graft`. */
  schema?: string;
  /**
   * Announce appends with `pg_notify` and let `watch` LISTEN for them (default true). Turning it
   * off leaves other instances to notice changes by polling: correctness never depends on it.
   */
  notify?: boolean;
  /** Shown in `pg_stat_activity` (say, the instance id). Default `graft`. */
  applicationName?: string;
  /** Connections in the pool. Default 10. */
  max?: number;
  /** Give up connecting (TCP and the start-up handshake) after this long. Default 10 s. */
  connectTimeoutMs?: number;
  /** `statement_timeout`: no statement runs longer on the server. Default 30 s. */
  statementTimeoutMs?: number;
  /**
   * The client's own deadline, for when the server cannot enforce its timeouts because it cannot
   * be reached: every query and every transaction (an append) fails with a `RetryableError`
   * `store_timeout` after this long, and a connection that owes an answer and hears nothing for
   * this long is destroyed (never reused). Start-up (connect and migrate) gets
   * `connectTimeoutMs + queryDeadlineMs`. Default `statementTimeoutMs + 5,000` (35 s).
   */
  queryDeadlineMs?: number;
  /** `lock_timeout`: no statement waits longer for a lock. Default 10 s. */
  lockTimeoutMs?: number;
  /** `idle_in_transaction_session_timeout`: a stuck client cannot hold locks forever. Default 60 s. */
  idleInTransactionTimeoutMs?: number;
}
