/**
 * What the commands that talk to a running service (`graft dead-letters`, `graft approvals`,
 * `graft takeover`, …) share: where the service is and the tenant's key (flags, else
 * environment), one HTTP call that turns a refusal into a sentence, and the exit codes.
 */
import type { FlagSpec } from '../util/args.js';
import { UsageError, parseFlags } from '../util/args.js';
import type { CommandOptions } from './serve-command.js';

/** The flags of every such command. */
export const serviceFlags: FlagSpec = {
  url: {
    type: 'string',
    help: 'the running service [env GRAFT_URL]',
    default: 'http://127.0.0.1:8787',
  },
  'api-key': { type: 'string', help: 'an API key of the tenant [env GRAFT_API_KEY]' },
  json: { type: 'boolean', help: 'print JSON instead of lines' },
  help: { type: 'boolean', help: 'show this help' },
};

export interface ServiceTarget {
  url: string;
  apiKey: string;
}

/**
 * The service refused the request, failed, or did not answer (exit 1), as opposed to a usage
 * error (exit 2). The message says what could not be done and why, in the service's words.
 */
export class RequestFailed extends Error {
  constructor(
    message: string,
    /** The HTTP status and error code, when the service answered. */
    readonly status: number | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/**
 * Splits a command line into its positional arguments and its flags, in any order (a string
 * flag takes the next argument as its value unless written `--name=value`).
 *
 * @example
 * parseCommandLine(['c1', '--operator', 'ana'], flags); // { positionals: ['c1'], values: { operator: 'ana', … } }
 */
export function parseCommandLine(
  argv: readonly string[],
  spec: FlagSpec,
): { positionals: string[]; values: ReturnType<typeof parseFlags> } {
  const positionals: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    flags.push(arg);
    const name = arg.slice(2);
    if (spec[name]?.type === 'string' && i + 1 < argv.length) flags.push(argv[(i += 1)]!);
  }
  return { positionals, values: parseFlags(flags, spec) };
}

/** The service and key of a command: `--url` over `GRAFT_URL` over the default; `--api-key` or `GRAFT_API_KEY`. */
export function serviceTarget(
  argv: readonly string[],
  values: ReturnType<typeof parseFlags>,
  env: Readonly<Record<string, string | undefined>>,
): ServiceTarget {
  const given = argv.some((a) => a === '--url' || a.startsWith('--url='));
  const url = given ? (values.url as string) : (env.GRAFT_URL ?? (values.url as string));
  const apiKey = (values['api-key'] as string | undefined) ?? env.GRAFT_API_KEY;
  if (!apiKey) throw new UsageError('needs --api-key (or GRAFT_API_KEY)');
  return { url: url.replace(/\/+$/, ''), apiKey };
}

/**
 * Calls the service and returns its JSON answer. `what` names the act for the error, as in
 * "cannot approve c1:eff_5_1: request c1:eff_5_1 was withdrawn: … (409 request_not_pending)".
 */
export async function callService(
  target: ServiceTarget,
  what: string,
  request: { method: 'GET' | 'POST'; path: string; body?: unknown },
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${target.url}${request.path}`, {
      method: request.method,
      headers: {
        authorization: `Bearer ${target.apiKey}`,
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new RequestFailed(`cannot ${what}: ${target.url} does not answer${cause}`);
  }
  const body = (await response.json().catch(() => null)) as {
    error?: { code?: string; message?: string };
  } | null;
  if (response.ok) return body;
  const code = body?.error?.code ?? null;
  const why = body?.error?.message ?? response.statusText;
  throw new RequestFailed(
    `cannot ${what}: ${why} (${response.status}${code === null ? '' : ` ${code}`})`,
    response.status,
    code,
  );
}

/**
 * Runs a command's body with the shared exit codes: 0 when it returns, 1 when the service refused
 * or failed (the message on stderr), 2 for a bad command line (the message and the help).
 */
export async function runServiceCommand(
  name: string,
  help: string,
  options: CommandOptions,
  body: (log: (line: string) => void, env: NonNullable<CommandOptions['env']>) => Promise<void>,
): Promise<number> {
  const log = options.log ?? ((text: string) => console.log(text));
  try {
    await body(log, options.env ?? process.env);
    return 0;
  } catch (error) {
    if (error instanceof RequestFailed) {
      console.error(`graft ${name}: ${error.message}`);
      return 1;
    }
    if (!(error instanceof UsageError)) throw error;
    console.error(`graft ${name}: ${error.message}\n\n${help}`);
    return 2;
  }
}
