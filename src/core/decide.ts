import type { Command } from './commands.js';
import type { CoreConfig } from './config.js';
import type { GraftEvent } from './events.js';
import { plan } from './plan.js';
import type { ConversationState } from './state.js';
import { evolve } from './state.js';

/**
 * The core: folds an appended event into the state and says what to do next. Pass `null` as the
 * event to ask again at `now` (a timer fired, or the shell just loaded the state).
 */
export function decide(
  state: ConversationState,
  event: GraftEvent | null,
  config: CoreConfig,
  now: number,
): { state: ConversationState; commands: Command[] } {
  const next = event === null ? state : evolve(state, event);
  return { state: next, commands: plan(next, config, now) };
}
