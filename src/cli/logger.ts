import type { DestinationStream, Logger } from 'pino';
import { pino } from 'pino';
import { UsageError } from '../util/args.js';

/** The levels `GRAFT_LOG_LEVEL` (and `--log-level`) accept, most to least severe. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The CLI's logger: pino, one JSON object per line (on stdout unless `destination` is given).
 * Unknown levels are a usage error rather than pino's exception.
 *
 * @example
 * const logger = createLogger('warn');
 * logger.warn({ event: 'model.failed' }, 'model call failed');
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(
      `--log-level (GRAFT_LOG_LEVEL) must be one of ${LOG_LEVELS.join(', ')} (got '${level}')`,
    );
  }
  const options = { name: 'graft', level };
  return destination ? pino(options, destination) : pino(options);
}
