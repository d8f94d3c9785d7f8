import type { EffectView, PendingApprovalView } from '../server/view.js';
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

const flags: FlagSpec = {
  note: { type: 'string', help: 'why (approve, reject): recorded, and told to the model' },
  operator: { type: 'string', help: 'who decides (approve, reject) [env GRAFT_OPERATOR]' },
  ...serviceFlags,
};

const HELP = `Usage: graft approvals list [flags]
       graft approvals approve <id> [--note TEXT] [--operator NAME] [flags]
       graft approvals reject <id> [--note TEXT] [--operator NAME] [flags]

Writes that wait for a person's approval (tools defined with approval), of the tenant of the API
key. 'list' prints the requests, oldest first: their id (<conversationId>:<effectId>), tool,
arguments, and when they expire. 'approve' runs the write at once; 'reject' records that it did
not happen, with the note. Either way the bot tells the customer in a follow-up. A request that
expired, or was withdrawn because the customer wrote again, can no longer be decided. Talks to a
running service (graft serve or graft demo).

${flagHelp(flags)}`;

function line(request: PendingApprovalView): string {
  return `${request.id}  ${request.tool} ${JSON.stringify(request.arguments)}  since ${request.since}  expires ${request.expiresAt}`;
}

/** What a decision recorded, in a sentence. */
function decided(id: string, effect: EffectView): string {
  const approval = effect.approval;
  const by = approval?.operator ? ` by ${approval.operator}` : '';
  const outcome =
    approval?.decision === 'approved' ? `: ${effect.tool} runs now` : `: ${effect.tool} did not run`;
  return `${approval?.decision ?? 'decided'} ${id}${by}${outcome}`;
}

/** `graft approvals list | approve <id> | reject <id>`: returns the exit code. */
export function approvalsCommand(argv: string[], options: CommandOptions = {}): Promise<number> {
  return runServiceCommand('approvals', HELP, options, async (log, env) => {
    const { positionals, values } = parseCommandLine(argv, flags);
    const [action, id, ...extra] = positionals;
    if (values.help || action === 'help') return log(HELP);
    const target = serviceTarget(argv, values, env);
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    if (action === 'list') {
      if (id !== undefined) throw new UsageError(`unexpected argument '${id}'`);
      const { approvals } = (await callService(target, 'list approvals', {
        method: 'GET',
        path: '/v1/approvals',
      })) as { approvals: PendingApprovalView[] };
      if (values.json) return log(JSON.stringify(approvals, null, 2));
      return log(approvals.length === 0 ? 'no requests wait for approval' : approvals.map(line).join('\n'));
    }
    if (action === 'approve' || action === 'reject') {
      if (id === undefined) throw new UsageError(`name the request to ${action} (graft approvals list)`);
      const operator = (values.operator as string | undefined) ?? env.GRAFT_OPERATOR;
      const note = values.note as string | undefined;
      const answer = (await callService(target, `${action} ${id}`, {
        method: 'POST',
        path: `/v1/approvals/${encodeURIComponent(id)}`,
        body: {
          decision: action,
          ...(note !== undefined ? { note } : {}),
          ...(operator ? { operator } : {}),
        },
      })) as { effect: EffectView };
      return log(values.json ? JSON.stringify(answer, null, 2) : decided(id, answer.effect));
    }
    throw new UsageError(action === undefined ? 'say list, approve or reject' : `unknown action '${action}'`);
  });
}
