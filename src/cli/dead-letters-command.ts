import type { DeadLetterView } from '../server/view.js';
import { UsageError, flagHelp } from '../util/args.js';
import type { CommandOptions } from './serve-command.js';
import {
  callService,
  parseCommandLine,
  runServiceCommand,
  serviceFlags,
  serviceTarget,
} from './service-client.js';

const HELP = `Usage: graft dead-letters list [flags]
       graft dead-letters redeliver <deliveryId> [flags]

Reply deliveries that graft gave up on (dead-lettered after --delivery-attempts tries, or past
--delivery-max-age-ms), of the tenant of the API key. 'list' prints them; 'redeliver' delivers one
again (its bounds start over). Talks to a running service (graft serve or graft demo): only the
service that delivers replies can deliver one again.

${flagHelp(serviceFlags)}`;

function line(letter: DeadLetterView): string {
  return `${letter.deliveryId}  conversation ${letter.conversationId}  reply ${letter.replyId}  ${letter.attempts} tries (${letter.reason})  since ${letter.since}  ${letter.lastError}`;
}

/** `graft dead-letters list | redeliver <deliveryId>`: returns the exit code. */
export function deadLettersCommand(argv: string[], options: CommandOptions = {}): Promise<number> {
  return runServiceCommand('dead-letters', HELP, options, async (log, env) => {
    const { positionals, values } = parseCommandLine(argv, serviceFlags);
    const [action, id, ...extra] = positionals;
    if (values.help || action === 'help') return log(HELP);
    const target = serviceTarget(argv, values, env);
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    if (action === 'list') {
      if (id !== undefined) throw new UsageError(`unexpected argument '${id}'`);
      const { deadLetters } = (await callService(target, 'list dead letters', {
        method: 'GET',
        path: '/v1/dead-letters',
      })) as { deadLetters: DeadLetterView[] };
      if (values.json) return log(JSON.stringify(deadLetters, null, 2));
      return log(deadLetters.length === 0 ? 'no dead letters' : deadLetters.map(line).join('\n'));
    }
    if (action === 'redeliver') {
      if (id === undefined) throw new UsageError('name the delivery id to redeliver');
      const answer = await callService(target, `redeliver ${id}`, {
        method: 'POST',
        path: `/v1/dead-letters/${encodeURIComponent(id)}/redeliver`,
      });
      return log(values.json ? JSON.stringify(answer) : `redelivering ${id}`);
    }
    throw new UsageError(action === undefined ? 'say list or redeliver' : `unknown action '${action}'`);
  });
}
