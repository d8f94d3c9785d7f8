import { describe, expect, it } from 'vitest';
import { adaptersFromEnv, chatLogger, parseChannelNames } from '../../src/channels/index.js';
import { startServe, serveConfig } from '../../src/cli/serve-command.js';

describe('configuring channels', () => {
  it('reads --channels and --channels-tenant from flags or the environment, and names what is wrong', () => {
    expect(serveConfig([], {}).config.channels).toBeNull();
    expect(
      serveConfig(['--channels', 'Telegram, slack', '--channels-tenant', 'shop'], {}).config.channels,
    ).toEqual({ names: ['telegram', 'slack'], tenantId: 'shop' });
    expect(
      serveConfig([], { GRAFT_CHANNELS: 'whatsapp', GRAFT_CHANNELS_TENANT: 'shop' }).config.channels,
    ).toEqual({ names: ['whatsapp'], tenantId: 'shop' });
    expect(() => serveConfig(['--channels', 'telegram'], {})).toThrow(/--channels needs --channels-tenant/);
    expect(() => serveConfig(['--channels', 'icq', '--channels-tenant', 'shop'], {})).toThrow(
      /unknown channel 'icq': graft supports telegram, whatsapp, slack, teams/,
    );
    expect(() => serveConfig(['--channels', 'slack', '--channels-tenant', 'a b'], {})).toThrow(
      /--channels-tenant/,
    );
    expect(parseChannelNames('telegram,,telegram')).toEqual(['telegram']);
  });

  it('refuses to start with every missing environment variable named', async () => {
    await expect(
      adaptersFromEnv(['telegram', 'slack'], { SLACK_BOT_TOKEN: 'x' }, chatLogger(undefined)),
    ).rejects.toThrow(
      'channels telegram, slack need the environment variables TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET_TOKEN, SLACK_SIGNING_SECRET',
    );
    const { config } = serveConfig(
      ['--store', 'memory', '--port', '0', '--channels', 'whatsapp', '--channels-tenant', 'shop'],
      {},
    );
    await expect(startServe(config, { env: { WHATSAPP_ACCESS_TOKEN: 't' } })).rejects.toThrow(
      /WHATSAPP_APP_SECRET, WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_VERIFY_TOKEN/,
    );
  });
});
