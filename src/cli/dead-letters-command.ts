import type { DeadLetterView } from '../server/view.js';
import type { FlagSpec } from '../util/args.js';
import { UsageError, flagHelp, parseFlags } from '../util/args.js';
import type { CommandOptions } from './serve-command.js';

const flags: FlagSpec = {
  url: {
    type: 'string',
    help: 'the running service [env GRAFT_URL]',
    default: 'http://127.0.0.1:8787',
  },
  'api-key': { type: 'string', help: 'an API key of the tenant [env GRAFT_API_KEY]' },
  json: { type: 'boolean', help: 'print JSON instead of lines' },
  help: { type: 'boolean', help: 'show this help' },
};

const HELP = `Usage: graft dead-letters list [flags]
       graft dead-letters redeliver <deliveryId> [flags]

Reply deliveries that graft gave up on (dead-lettered after --delivery-attempts tries, or past
--delivery-max-age-ms), of the tenant of the API key. 'list' prints them; 'redeliver' delivers one
again (its bounds start over). Talks to a running service (graft serve or graft demo): only the
service that delivers replies can deliver one again.

${flagHelp(flags)}`;

interface Target {
  url: string;
  apiKey: string;
}

async function call(target: Target, method: 'GET' | 'POST', path: string): Promise<unknown> {
  const response = await fetch(`${target.url.replace(/\/+$/, '')}${path}`, {
    method,
    headers: { authorization: `Bearer ${target.apiKey}` },
  });
  const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
  if (!response.ok)
    throw new RequestFailed(
      `${target.url} answered ${response.status}: ${body?.error?.message ?? response.statusText}`,
    );
  return body;
}

/** The service refused or failed (exit 1), as opposed to a usage error (exit 2). */
class RequestFailed extends Error {}

function line(letter: DeadLetterView): string {
  return `${letter.deliveryId}  conversation ${letter.conversationId}  reply ${letter.replyId}  ${letter.attempts} tries (${letter.reason})  since ${letter.since}  ${letter.lastError}`;
}

/** `graft dead-letters list | redeliver <deliveryId>`: returns the exit code. */
export async function deadLettersCommand(argv: string[], options: CommandOptions = {}): Promise<number> {
  const log = options.log ?? ((text: string) => console.log(text));
  const env = options.env ?? process.env;
  const [action, ...rest] = argv;
  try {
    const id =
      action === 'redeliver' && rest[0] !== undefined && !rest[0].startsWith('--') ? rest[0] : undefined;
    const values = parseFlags(id === undefined ? rest : rest.slice(1), flags);
    if (values.help || action === '--help' || action === 'help') {
      log(HELP);
      return 0;
    }
    const given = argv.some((a) => a === '--url' || a.startsWith('--url='));
    const url = given ? (values.url as string) : (env.GRAFT_URL ?? (values.url as string));
    const apiKey = (values['api-key'] as string | undefined) ?? env.GRAFT_API_KEY;
    if (!apiKey) throw new UsageError('needs --api-key (or GRAFT_API_KEY)');
    const target = { url, apiKey };
    if (action === 'list') {
      const { deadLetters } = (await call(target, 'GET', '/v1/dead-letters')) as {
        deadLetters: DeadLetterView[];
      };
      if (values.json) log(JSON.stringify(deadLetters, null, 2));
      else log(deadLetters.length === 0 ? 'no dead letters' : deadLetters.map(line).join('\n'));
      return 0;
    }
    if (action === 'redeliver') {
      if (id === undefined) throw new UsageError('name the delivery id to redeliver');
      const answer = await call(target, 'POST', `/v1/dead-letters/${encodeURIComponent(id)}/redeliver`);
      log(values.json ? JSON.stringify(answer) : `redelivering ${id}`);
      return 0;
    }
    throw new UsageError(action === undefined ? 'say list or redeliver' : `unknown action '${action}'`);
  } catch (error) {
    if (error instanceof RequestFailed || error instanceof TypeError) {
      console.error(`graft dead-letters: ${error.message}`);
      return 1;
    }
    if (!(error instanceof UsageError)) throw error;
    console.error(`graft dead-letters: ${error.message}\n\n${HELP}`);
    return 2;
  }
}
