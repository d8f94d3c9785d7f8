import { conversationKey } from '../core/ports.js';
import { openServiceStore, storeSpecFromEnv } from '../server/open-store.js';
import type { ConversationView } from '../server/view.js';
import { conversationView } from '../server/view.js';
import { renderConversationTree } from '../server/view-tree.js';
import type { FlagSpec } from '../util/args.js';
import { UsageError, flagHelp, parseFlags } from '../util/args.js';
import type { CommandOptions } from './serve-command.js';

const flags: FlagSpec = {
  store: {
    type: 'string',
    help: 'read the store directly: memory | sqlite:PATH | postgres://… [env GRAFT_STORE, GRAFT_DATABASE_URL]',
    default: 'sqlite:./data/graft.db',
  },
  tenant: { type: 'string', help: "the conversation's tenant, with --store", default: 'demo' },
  url: { type: 'string', help: 'ask a running server instead, e.g. http://localhost:8787 [env GRAFT_URL]' },
  'api-key': { type: 'string', help: 'the API key for --url (it picks the tenant) [env GRAFT_API_KEY]' },
  json: { type: 'boolean', help: 'print the conversation view as JSON instead of a tree' },
  help: { type: 'boolean', help: 'show this help' },
};

const HELP = `Usage: graft inspect <conversationId> [flags]

Prints a conversation as a tree: its turns, each turn's messages and attempts (branches), every
attempt's model calls with their response ids, token usage and the grafts in their context, the
tool calls and the effects they started, and the reply; then the effect ledger. Reads the store
directly (--store, --tenant) or asks a running server (--url, --api-key).

${flagHelp(flags)}`;

async function fromServer(
  url: string,
  apiKey: string,
  conversationId: string,
): Promise<ConversationView | null> {
  const response = await fetch(
    `${url.replace(/\/+$/, '')}/v1/conversations/${encodeURIComponent(conversationId)}`,
    {
      headers: { authorization: `Bearer ${apiKey}` },
    },
  );
  if (response.status === 404) return null;
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new UsageError(
      `${url} answered ${response.status}: ${body?.error?.message ?? response.statusText}`,
    );
  }
  return (await response.json()) as ConversationView;
}

async function fromStore(
  spec: string,
  tenantId: string,
  conversationId: string,
): Promise<ConversationView | null> {
  const opened = await openServiceStore(spec);
  try {
    return conversationView(
      tenantId,
      conversationId,
      await opened.store.read(conversationKey(tenantId, conversationId), 0),
    );
  } finally {
    await opened.close();
  }
}

/** `graft inspect <conversationId>`: returns the exit code (1 when there is no such conversation). */
export async function inspectCommand(argv: string[], options: CommandOptions = {}): Promise<number> {
  const log = options.log ?? ((line: string) => console.log(line));
  const env = options.env ?? process.env;
  const positional = argv.filter((a) => !a.startsWith('--') || a === '--');
  const conversationId = argv[0] !== undefined && !argv[0].startsWith('--') ? argv[0] : undefined;
  try {
    const values = parseFlags(conversationId === undefined ? argv : argv.slice(1), flags);
    if (values.help) {
      log(HELP);
      return 0;
    }
    if (conversationId === undefined)
      throw new UsageError(
        positional.length === 0 ? 'name the conversation to inspect' : 'the conversation id comes first',
      );
    const url = (values.url as string | undefined) ?? env.GRAFT_URL;
    let view: ConversationView | null;
    if (url) {
      const apiKey = (values['api-key'] as string | undefined) ?? env.GRAFT_API_KEY;
      if (!apiKey) throw new UsageError('--url needs --api-key (or GRAFT_API_KEY)');
      view = await fromServer(url, apiKey, conversationId);
    } else {
      const spec = argv.some((a) => a === '--store' || a.startsWith('--store='))
        ? (values.store as string)
        : storeSpecFromEnv(env);
      view = await fromStore(spec, values.tenant as string, conversationId);
    }
    if (!view) {
      console.error(`graft inspect: no conversation '${conversationId}'`);
      return 1;
    }
    log(values.json ? JSON.stringify(view, null, 2) : renderConversationTree(view));
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
    console.error(`graft inspect: ${error.message}${error instanceof UsageError ? `\n\n${HELP}` : ''}`);
    return 2;
  }
}
