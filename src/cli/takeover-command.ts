/**
 * `graft takeover`, `graft operator-message` and `graft release`: a person takes a conversation
 * from the bot, answers the customer, and hands it back, through a running service.
 */
import type { FlagSpec } from '../util/args.js';
import { UsageError, flagHelp } from '../util/args.js';
import type { CommandOptions } from './serve-command.js';
import {
  callService,
  parseCommandLine,
  runServiceCommand,
  serviceFlags,
  serviceTarget,
} from './service-client.js';

const takeoverFlags: FlagSpec = {
  operator: { type: 'string', help: 'who takes the conversation over [env GRAFT_OPERATOR]' },
  ...serviceFlags,
};

const TAKEOVER_HELP = `Usage: graft takeover <conversationId> --operator NAME [flags]

Hands a conversation to a person: the bot's attempt in progress is dropped, and until
'graft release' the bot answers nothing and runs no write (the customer's messages are still
recorded; writes already running finish and are recorded). Reply with 'graft operator-message'.

${flagHelp(takeoverFlags)}`;

const MESSAGE_HELP = `Usage: graft operator-message <conversationId> <text> [flags]

Sends a person's reply in a conversation they have taken over: it answers every customer message
not answered yet, and is delivered like the bot's (webhook, SSE). After 'graft release' the bot's
context holds it.

${flagHelp(serviceFlags)}`;

const RELEASE_HELP = `Usage: graft release <conversationId> [flags]

Hands a conversation back to the bot: it answers whatever the person left unanswered, knowing
what the person said.

${flagHelp(serviceFlags)}`;

/** The positional arguments a command takes, in order, or a usage error naming the missing one. */
function positionalArgs(positionals: string[], names: string[]): string[] {
  const missing = names[positionals.length];
  if (missing !== undefined) throw new UsageError(`name the ${missing}`);
  if (positionals.length > names.length)
    throw new UsageError(`unexpected argument '${positionals[names.length]}'`);
  return positionals;
}

const conversationPath = (conversationId: string, act: string) =>
  `/v1/conversations/${encodeURIComponent(conversationId)}/${act}`;

/** `graft takeover <conversationId> --operator NAME`: returns the exit code. */
export function takeoverCommand(argv: string[], options: CommandOptions = {}): Promise<number> {
  return runServiceCommand('takeover', TAKEOVER_HELP, options, async (log, env) => {
    const { positionals, values } = parseCommandLine(argv, takeoverFlags);
    if (values.help) return log(TAKEOVER_HELP);
    const target = serviceTarget(argv, values, env);
    const [conversationId] = positionalArgs(positionals, ['conversation id']) as [string];
    const operator = (values.operator as string | undefined) ?? env.GRAFT_OPERATOR;
    if (!operator) throw new UsageError('needs --operator (or GRAFT_OPERATOR): who takes it over');
    const answer = await callService(target, `take over ${conversationId}`, {
      method: 'POST',
      path: conversationPath(conversationId, 'takeover'),
      body: { operator },
    });
    log(
      values.json
        ? JSON.stringify(answer)
        : `${operator} has conversation ${conversationId}; the bot is paused`,
    );
  });
}

/** `graft operator-message <conversationId> <text>`: returns the exit code. */
export function operatorMessageCommand(argv: string[], options: CommandOptions = {}): Promise<number> {
  return runServiceCommand('operator-message', MESSAGE_HELP, options, async (log, env) => {
    const { positionals, values } = parseCommandLine(argv, serviceFlags);
    if (values.help) return log(MESSAGE_HELP);
    const target = serviceTarget(argv, values, env);
    const [conversationId, text] = positionalArgs(positionals, ['conversation id', 'text']) as [
      string,
      string,
    ];
    const answer = (await callService(target, `send a message in ${conversationId}`, {
      method: 'POST',
      path: conversationPath(conversationId, 'operator-messages'),
      body: { text },
    })) as { replyId: string };
    log(values.json ? JSON.stringify(answer) : `reply ${answer.replyId} committed in ${conversationId}`);
  });
}

/** `graft release <conversationId>`: returns the exit code. */
export function releaseCommand(argv: string[], options: CommandOptions = {}): Promise<number> {
  return runServiceCommand('release', RELEASE_HELP, options, async (log, env) => {
    const { positionals, values } = parseCommandLine(argv, serviceFlags);
    if (values.help) return log(RELEASE_HELP);
    const target = serviceTarget(argv, values, env);
    const [conversationId] = positionalArgs(positionals, ['conversation id']) as [string];
    const answer = await callService(target, `release ${conversationId}`, {
      method: 'POST',
      path: conversationPath(conversationId, 'release'),
    });
    log(values.json ? JSON.stringify(answer) : `conversation ${conversationId} is the bot's again`);
  });
}
