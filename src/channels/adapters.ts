import type * as Slack from '@chat-adapter/slack';
import type * as Teams from '@chat-adapter/teams';
import type * as Telegram from '@chat-adapter/telegram';
import type * as WhatsApp from '@chat-adapter/whatsapp';
import type { Adapter, Logger as ChatLogger } from 'chat';
import { createHash } from 'node:crypto';
import { TerminalError } from '../core/errors.js';

/** What each supported channel needs from the environment (docs/channels.md). */
export const CHANNEL_ENV: Record<string, { required: string[]; optional: string[]; pkg: string }> = {
  telegram: {
    pkg: '@chat-adapter/telegram',
    required: ['TELEGRAM_BOT_TOKEN', 'TELEGRAM_WEBHOOK_SECRET_TOKEN'],
    optional: ['TELEGRAM_BOT_USERNAME', 'TELEGRAM_API_BASE_URL', 'TELEGRAM_ALLOWED_USER_IDS'],
  },
  whatsapp: {
    pkg: '@chat-adapter/whatsapp',
    required: [
      'WHATSAPP_ACCESS_TOKEN',
      'WHATSAPP_APP_SECRET',
      'WHATSAPP_PHONE_NUMBER_ID',
      'WHATSAPP_VERIFY_TOKEN',
    ],
    optional: ['WHATSAPP_API_URL', 'WHATSAPP_BOT_USERNAME'],
  },
  slack: {
    pkg: '@chat-adapter/slack',
    required: ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET'],
    optional: ['SLACK_API_URL'],
  },
  teams: {
    pkg: '@chat-adapter/teams',
    required: ['TEAMS_APP_ID', 'TEAMS_APP_PASSWORD'],
    optional: ['TEAMS_APP_TENANT_ID', 'TEAMS_API_URL'],
  },
};

export const SUPPORTED_CHANNELS = Object.keys(CHANNEL_ENV);

/** `telegram,whatsapp` → the names, checked; a usage error names what is wrong. */
export function parseChannelNames(value: string): string[] {
  const names = [...new Set(value.split(',').map((name) => name.trim().toLowerCase()))].filter(Boolean);
  const unknown = names.filter((name) => !CHANNEL_ENV[name]);
  if (unknown.length > 0) {
    throw new TerminalError(
      `unknown channel ${unknown.map((n) => `'${n}'`).join(', ')}: graft supports ${SUPPORTED_CHANNELS.join(', ')}`,
      'invalid_channels',
    );
  }
  return names;
}

type Env = Record<string, string | undefined>;

async function load<T>(pkg: string): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (error) {
    throw new TerminalError(
      `channels need the package '${pkg}' (and 'chat'): npm install chat ${pkg} (${error instanceof Error ? error.message : String(error)})`,
      'channel_package_missing',
    );
  }
}

/**
 * Makes the Chat SDK adapter of each named channel from environment variables; a missing
 * variable is an error that names every missing one. Telegram runs in webhook mode (never long
 * polling). The `*_API_URL` variables point an adapter at another server (tests use a local fake).
 */
export async function adaptersFromEnv(
  names: readonly string[],
  env: Env,
  logger: ChatLogger,
): Promise<Record<string, Adapter>> {
  const missing = names.flatMap((name) => CHANNEL_ENV[name]!.required.filter((v) => !env[v]));
  if (missing.length > 0) {
    throw new TerminalError(
      `channels ${names.join(', ')} need the environment variables ${missing.join(', ')} (docs/channels.md)`,
      'channel_config_missing',
    );
  }
  const adapters: Record<string, Adapter> = {};
  for (const name of names) adapters[name] = await makeAdapter(name, env, logger.child(name));
  return adapters;
}

const optional = (env: Env, name: string, key: string) => (env[name] ? { [key]: env[name] } : {});

/**
 * The Telegram adapter asks Telegram who it is (`getMe`) before it accepts an update, and answers
 * 503 until Telegram answers. A bot token starts with the bot's id (`123456:ABC…`), which is all
 * it needs: set from the token, no inbound update waits on an outbound call, and a fake token (to
 * try the channel locally) works. Its name for mentions in groups is `TELEGRAM_BOT_USERNAME`.
 * (Chat SDK 4.41 keeps the identity in `_botUserId` and `webhookScope`; test/channels checks it.)
 */
function knowsItself<T extends Adapter>(adapter: T, token: string): T {
  const id = /^(\d+):/.exec(token)?.[1];
  if (id) {
    Object.assign(adapter, {
      _botUserId: id,
      webhookScope: createHash('sha256').update(id).digest('hex'),
    });
  }
  return adapter;
}

async function makeAdapter(name: string, env: Env, logger: ChatLogger): Promise<Adapter> {
  switch (name) {
    case 'telegram': {
      const { createTelegramAdapter } = await load<typeof Telegram>(CHANNEL_ENV.telegram!.pkg);
      return knowsItself(
        createTelegramAdapter({
          botToken: env.TELEGRAM_BOT_TOKEN!,
          secretToken: env.TELEGRAM_WEBHOOK_SECRET_TOKEN!,
          mode: 'webhook',
          logger,
          ...optional(env, 'TELEGRAM_BOT_USERNAME', 'userName'),
          ...optional(env, 'TELEGRAM_API_BASE_URL', 'apiBaseUrl'),
          ...(env.TELEGRAM_ALLOWED_USER_IDS
            ? { allowedUserIds: env.TELEGRAM_ALLOWED_USER_IDS.split(',').map((id) => id.trim()) }
            : {}),
        }),
        env.TELEGRAM_BOT_TOKEN!,
      );
    }
    case 'whatsapp': {
      const { createWhatsAppAdapter } = await load<typeof WhatsApp>(CHANNEL_ENV.whatsapp!.pkg);
      return createWhatsAppAdapter({
        accessToken: env.WHATSAPP_ACCESS_TOKEN!,
        appSecret: env.WHATSAPP_APP_SECRET!,
        phoneNumberId: env.WHATSAPP_PHONE_NUMBER_ID!,
        verifyToken: env.WHATSAPP_VERIFY_TOKEN!,
        logger,
        ...optional(env, 'WHATSAPP_API_URL', 'apiUrl'),
        ...optional(env, 'WHATSAPP_BOT_USERNAME', 'userName'),
      });
    }
    case 'slack': {
      const { createSlackAdapter } = await load<typeof Slack>(CHANNEL_ENV.slack!.pkg);
      return createSlackAdapter({
        botToken: env.SLACK_BOT_TOKEN!,
        signingSecret: env.SLACK_SIGNING_SECRET!,
        logger,
        ...optional(env, 'SLACK_API_URL', 'apiUrl'),
      });
    }
    case 'teams': {
      const { createTeamsAdapter } = await load<typeof Teams>(CHANNEL_ENV.teams!.pkg);
      return createTeamsAdapter({
        appId: env.TEAMS_APP_ID!,
        appPassword: env.TEAMS_APP_PASSWORD!,
        logger,
        ...optional(env, 'TEAMS_APP_TENANT_ID', 'appTenantId'),
        ...optional(env, 'TEAMS_API_URL', 'apiUrl'),
      });
    }
    default:
      throw new TerminalError(`unknown channel '${name}'`, 'invalid_channels');
  }
}
