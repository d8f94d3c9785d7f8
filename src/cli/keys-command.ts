import type { KeyStore } from '../server/keys/key-store.js';
import { parseOrigins, parseTenantId } from '../server/keys/key-store.js';
import { openServiceStore, storeSpecFromEnv } from '../server/open-store.js';
import type { FlagSpec } from '../util/args.js';
import { UsageError, flagHelp, parseFlags } from '../util/args.js';
import type { CommandOptions } from './serve-command.js';

const storeFlag = {
  type: 'string',
  help: "the service's store: sqlite:PATH | postgres://… [env GRAFT_STORE, GRAFT_DATABASE_URL]",
  default: 'sqlite:./data/graft.db',
} as const;

const createFlags: FlagSpec = {
  tenant: { type: 'string', help: 'the tenant the key belongs to (letters, digits, . _ -)' },
  label: { type: 'string', help: 'a note to recognise the key by' },
  'webhook-url': { type: 'string', help: "also set the tenant's reply webhook URL" },
  'webhook-secret': { type: 'string', help: "also set the secret that signs the tenant's reply webhooks" },
  'inbound-secret': {
    type: 'string',
    help: 'also require inbound messages signed with this secret (X-Graft-Signature)',
  },
  'widget-secret': {
    type: 'string',
    help: "also set the secret that signs the tenant's web chat tokens (docs/widget.md)",
  },
  'widget-origins': {
    type: 'string',
    help: "also let these sites' pages call the web chat (CORS): origins separated by commas; '' for none",
  },
  store: storeFlag,
  help: { type: 'boolean', help: 'show this help' },
};
const listFlags: FlagSpec = {
  tenant: { type: 'string', help: "only this tenant's keys" },
  store: storeFlag,
  help: { type: 'boolean', help: 'show this help' },
};
const revokeFlags: FlagSpec = { store: storeFlag, help: { type: 'boolean', help: 'show this help' } };

const HELP = `Usage: graft keys <create|list|revoke> [flags]

Manages per-tenant API keys, kept hashed (SHA-256) in the service's database.

graft keys create --tenant T [flags]   prints a new key (shown once)
${flagHelp(createFlags)}

graft keys list [--tenant T] [--store SPEC]
graft keys revoke KEY_ID [--store SPEC]`;

type Values = Record<string, string | boolean | undefined>;
const str = (values: Values, name: string): string | null =>
  typeof values[name] === 'string' ? values[name] : null;

async function create(keys: KeyStore, values: Values, log: (line: string) => void): Promise<void> {
  const tenant = str(values, 'tenant');
  if (tenant === null) throw new UsageError('keys create needs --tenant');
  const { key, record } = await keys.create(parseTenantId(tenant), {
    ...(str(values, 'label') ? { label: str(values, 'label')! } : {}),
  });
  const settings = [
    'webhook-url',
    'webhook-secret',
    'inbound-secret',
    'widget-secret',
    'widget-origins',
  ].some((name) => str(values, name) !== null);
  if (settings) {
    const current = await keys.tenant(tenant);
    const origins = str(values, 'widget-origins');
    await keys.setTenant({
      tenantId: tenant,
      webhookUrl: str(values, 'webhook-url') ?? current?.webhookUrl ?? null,
      webhookSecret: str(values, 'webhook-secret') ?? current?.webhookSecret ?? null,
      inboundSecret: str(values, 'inbound-secret') ?? current?.inboundSecret ?? null,
      // Omitted: left as they are.
      ...(str(values, 'widget-secret') !== null ? { widgetSecret: str(values, 'widget-secret') } : {}),
      ...(origins !== null ? { widgetOrigins: parseOrigins(origins) } : {}),
    });
  }
  log(key);
  console.error(
    `Created ${record.keyId} for tenant '${tenant}'. The key is shown only now: only its SHA-256 is stored.`,
  );
}

/** `graft keys create|list|revoke`. */
export async function keysCommand(argv: string[], options: CommandOptions = {}): Promise<number> {
  const log = options.log ?? ((line: string) => console.log(line));
  const env = options.env ?? process.env;
  const [action, ...rest] = argv;
  try {
    if (action === undefined || action === '--help' || action === '-h' || rest.includes('--help')) {
      log(HELP);
      return action === undefined ? 2 : 0;
    }
    const revokeId =
      action === 'revoke' && rest[0] !== undefined && !rest[0].startsWith('--') ? rest[0] : null;
    const spec = { create: createFlags, list: listFlags, revoke: revokeFlags }[action];
    if (!spec) throw new UsageError(`unknown action '${action}' (try: create, list, revoke)`);
    const values = parseFlags(revokeId === null ? rest : rest.slice(1), spec);
    if (action === 'revoke' && revokeId === null)
      throw new UsageError('keys revoke needs the key id (see keys list)');
    const store = rest.some((a) => a === '--store' || a.startsWith('--store='))
      ? (values.store as string)
      : storeSpecFromEnv(env);
    const opened = await openServiceStore(store);
    try {
      if (opened.kind === 'memory')
        throw new UsageError(
          'keys in the memory store vanish with the process; use --store sqlite:PATH or postgres://…',
        );
      if (action === 'create') await create(opened.keys, values, log);
      if (action === 'list') {
        for (const r of await opened.keys.list(str(values, 'tenant') ?? undefined)) {
          log(
            [
              r.keyId,
              r.tenantId,
              new Date(r.createdAt).toISOString(),
              r.revokedAt === null ? 'active' : 'revoked',
              r.label ?? '',
            ].join('\t'),
          );
        }
      }
      if (action === 'revoke') {
        if (!(await opened.keys.revoke(revokeId!))) throw new UsageError(`no active key ${revokeId}`);
        log(`revoked ${revokeId}`);
      }
    } finally {
      await opened.close();
    }
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
    console.error(`graft keys: ${error.message}`);
    return 2;
  }
}
