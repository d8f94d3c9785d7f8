import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { GraftError } from '../core/errors.js';
import type { DeliveryBounds, ModelClient } from '../core/ports.js';
import { defaultDeliveryBounds } from '../core/ports.js';
import { createEmulator } from '../emulator/server.js';
import { OpenAIModelClient, openAIOptionsFromEnv } from '../model/openai/index.js';
import type { AppEnv, ServerLimits } from '../server/app.js';
import { listen } from '../server/listen.js';
import type { ServiceStoreWithHandles } from '../server/store-handles.js';
import { storeSpecFromEnv } from '../server/open-store.js';
import { openServiceStoreWithHandles } from '../server/store-handles.js';
import type { Service } from '../server/service.js';
import type { WidgetOptions } from '../server/widget.js';
import { createService } from '../server/service.js';
import type { GraftChannels } from '../channels/index.js';
import { parseChannelNames } from '../channels/adapters.js';
import { parseTenantId } from '../server/keys/key-store.js';
import type { ShutdownReport } from '../runtime/graft.js';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../runtime/graft.js';
import { redactUrl } from '../store/open.js';
import type { ToolDefinition } from '../tools/define-tool.js';
import type { FlagSpec } from '../util/args.js';
import { UsageError, flagHelp, intFlag, parseFlags } from '../util/args.js';
import { createLogger } from './logger.js';

type Env = Record<string, string | undefined>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tool has its own argument type
type Tools = ToolDefinition<any>[];

export const serveFlags: FlagSpec = {
  port: { type: 'string', help: 'port to listen on, 0 picks one [env GRAFT_PORT, PORT]', default: '8787' },
  host: { type: 'string', help: 'address to listen on [env GRAFT_HOST]', default: '127.0.0.1' },
  store: {
    type: 'string',
    help: 'memory | sqlite:PATH | postgres://… [env GRAFT_STORE, GRAFT_DATABASE_URL]',
    default: 'sqlite:./data/graft.db',
  },
  model: {
    type: 'string',
    help: 'emulator | openai [env GRAFT_MODEL] (default: openai when OPENAI_API_KEY is set, else emulator)',
  },
  'model-name': {
    type: 'string',
    help: 'model sent with every call [env OPENAI_MODEL]',
    default: 'gpt-4.1-mini',
  },
  'openai-base-url': {
    type: 'string',
    help: 'a Responses-compatible server for --model openai [env OPENAI_BASE_URL]',
  },
  latency: {
    type: 'string',
    help: "the emulator's latency: zero | realistic [env GRAFT_EMULATOR_LATENCY]",
    default: 'realistic',
  },
  mode: { type: 'string', help: 'model-call mode: chain | stateless [env GRAFT_MODE]', default: 'chain' },
  tools: {
    type: 'string',
    help: 'a module exporting the tools (default export or `tools`) [env GRAFT_TOOLS]',
  },
  'webhook-url': {
    type: 'string',
    help: 'where replies are POSTed, for tenants without their own [env GRAFT_WEBHOOK_URL]',
  },
  'webhook-secret': {
    type: 'string',
    help: 'signs reply webhooks (X-Graft-Signature) [env GRAFT_WEBHOOK_SECRET]',
  },
  'delivery-attempts': {
    type: 'string',
    help: 'tries of a reply delivery before it is dead-lettered [env GRAFT_DELIVERY_ATTEMPTS]',
    default: String(defaultDeliveryBounds.attempts),
  },
  'delivery-max-age-ms': {
    type: 'string',
    help: 'no delivery try later than this after the reply [env GRAFT_DELIVERY_MAX_AGE_MS]',
    default: String(defaultDeliveryBounds.maxAgeMs),
  },
  'delivery-backoff-ms': {
    type: 'string',
    help: 'first wait between delivery tries, doubling [env GRAFT_DELIVERY_BACKOFF_MS]',
    default: String(defaultDeliveryBounds.backoffMs),
  },
  'max-body-bytes': {
    type: 'string',
    help: 'largest request body [env GRAFT_MAX_BODY_BYTES]',
    default: '65536',
  },
  'max-message-chars': {
    type: 'string',
    help: 'longest message text [env GRAFT_MAX_MESSAGE_CHARS]',
    default: '8000',
  },
  'rate-burst': {
    type: 'string',
    help: 'messages a conversation may send at once [env GRAFT_RATE_BURST]',
    default: '20',
  },
  'rate-per-minute': {
    type: 'string',
    help: 'then messages per minute per conversation [env GRAFT_RATE_PER_MINUTE]',
    default: '60',
  },
  'log-level': {
    type: 'string',
    help: 'fatal | error | warn | info | debug | trace | silent [env GRAFT_LOG_LEVEL]',
    default: 'info',
  },
  'shutdown-timeout-ms': {
    type: 'string',
    help: 'on SIGTERM/SIGINT, how long to finish work in flight before exiting [env GRAFT_SHUTDOWN_TIMEOUT_MS]',
    default: String(DEFAULT_SHUTDOWN_TIMEOUT_MS),
  },
  'log-text': {
    type: 'boolean',
    help: 'put message and reply text in log records [env GRAFT_LOG_TEXT=1]',
  },
  channels: {
    type: 'string',
    help: 'Chat SDK channels to mount at POST /v1/channels/{name}: telegram,whatsapp,slack,teams (docs/channels.md) [env GRAFT_CHANNELS]',
  },
  'channels-tenant': {
    type: 'string',
    help: "the tenant that answers the channels' customers [env GRAFT_CHANNELS_TENANT]",
  },
  help: { type: 'boolean', help: 'show this help' },
};

const ENV_OF: Record<string, string[]> = {
  port: ['GRAFT_PORT', 'PORT'],
  host: ['GRAFT_HOST'],
  model: ['GRAFT_MODEL'],
  'model-name': ['OPENAI_MODEL'],
  'openai-base-url': ['OPENAI_BASE_URL'],
  latency: ['GRAFT_EMULATOR_LATENCY'],
  mode: ['GRAFT_MODE'],
  tools: ['GRAFT_TOOLS'],
  'webhook-url': ['GRAFT_WEBHOOK_URL'],
  'webhook-secret': ['GRAFT_WEBHOOK_SECRET'],
  'delivery-attempts': ['GRAFT_DELIVERY_ATTEMPTS'],
  'delivery-max-age-ms': ['GRAFT_DELIVERY_MAX_AGE_MS'],
  'delivery-backoff-ms': ['GRAFT_DELIVERY_BACKOFF_MS'],
  'max-body-bytes': ['GRAFT_MAX_BODY_BYTES'],
  'max-message-chars': ['GRAFT_MAX_MESSAGE_CHARS'],
  'rate-burst': ['GRAFT_RATE_BURST'],
  'rate-per-minute': ['GRAFT_RATE_PER_MINUTE'],
  'log-level': ['GRAFT_LOG_LEVEL'],
  'shutdown-timeout-ms': ['GRAFT_SHUTDOWN_TIMEOUT_MS'],
  channels: ['GRAFT_CHANNELS'],
  'channels-tenant': ['GRAFT_CHANNELS_TENANT'],
};

export interface ServeConfig {
  port: number;
  host: string;
  store: string;
  model: 'emulator' | 'openai';
  modelName: string;
  openaiBaseUrl: string | null;
  latency: 'zero' | 'realistic';
  mode: 'chain' | 'stateless';
  tools: string | null;
  webhookUrl: string | null;
  webhookSecret: string | null;
  /** When a failing reply delivery is dead-lettered. */
  delivery: Pick<DeliveryBounds, 'attempts' | 'maxAgeMs' | 'backoffMs'>;
  limits: Partial<ServerLimits>;
  /** The log level of `graft serve` (JSON lines on stdout). */
  logLevel: string;
  /** Message and reply text in log records (default false: redacted). */
  logText: boolean;
  /** The bound of a graceful shutdown (SIGTERM, SIGINT). */
  shutdownTimeoutMs: number;
  /** Chat SDK channels to mount, and the tenant that answers them. */
  channels: { names: string[]; tenantId: string } | null;
}

/** Flags over environment over defaults. `argv` holds flags only; `spec` may add flags of its own. */
export function serveConfig(
  argv: readonly string[],
  env: Env,
  spec: FlagSpec = serveFlags,
): { config: ServeConfig; values: Record<string, string | boolean | undefined> } {
  const given = parseFlags(
    argv,
    Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, { ...v, default: undefined }])),
  );
  const pick = (name: string): string | undefined => {
    const flag = given[name];
    if (typeof flag === 'string') return flag;
    for (const variable of ENV_OF[name] ?? []) if (env[variable]) return env[variable];
    return spec[name]?.default;
  };
  const model = pick('model') ?? (env.OPENAI_API_KEY ? 'openai' : 'emulator');
  if (model !== 'emulator' && model !== 'openai') throw new UsageError('--model must be emulator or openai');
  const latency = pick('latency');
  if (latency !== 'zero' && latency !== 'realistic')
    throw new UsageError('--latency must be zero or realistic');
  const mode = pick('mode');
  if (mode !== 'chain' && mode !== 'stateless') throw new UsageError('--mode must be chain or stateless');
  const config: ServeConfig = {
    port: intFlag('port', pick('port'), { max: 65_535 }),
    host: pick('host')!,
    store: typeof given.store === 'string' ? given.store : storeSpecFromEnv(env),
    model,
    modelName: pick('model-name')!,
    openaiBaseUrl: pick('openai-base-url') ?? null,
    latency,
    mode,
    tools: pick('tools') ?? null,
    webhookUrl: pick('webhook-url') ?? null,
    webhookSecret: pick('webhook-secret') ?? null,
    delivery: {
      attempts: intFlag('delivery-attempts', pick('delivery-attempts'), { min: 1, max: 1_000 }),
      maxAgeMs: intFlag('delivery-max-age-ms', pick('delivery-max-age-ms'), { min: 1 }),
      backoffMs: intFlag('delivery-backoff-ms', pick('delivery-backoff-ms'), { min: 1 }),
    },
    limits: {
      bodyBytes: intFlag('max-body-bytes', pick('max-body-bytes'), { min: 256 }),
      messageChars: intFlag('max-message-chars', pick('max-message-chars'), { min: 1 }),
      burst: intFlag('rate-burst', pick('rate-burst'), { min: 1 }),
      perMinute: intFlag('rate-per-minute', pick('rate-per-minute')),
    },
    logLevel: pick('log-level') ?? 'info',
    shutdownTimeoutMs: intFlag('shutdown-timeout-ms', pick('shutdown-timeout-ms') ?? '10000', {
      max: 3_600_000,
    }),
    logText: given['log-text'] === true || env.GRAFT_LOG_TEXT === '1' || env.GRAFT_LOG_TEXT === 'true',
    channels: channelsConfig(pick('channels'), pick('channels-tenant')),
  };
  return { config, values: { ...given, help: given.help } };
}

function channelsConfig(names: string | undefined, tenant: string | undefined): ServeConfig['channels'] {
  if (!names) return null;
  let parsed: string[];
  try {
    parsed = parseChannelNames(names);
  } catch (error) {
    throw new UsageError(`--channels: ${(error as Error).message}`);
  }
  if (parsed.length === 0) return null;
  if (!tenant) throw new UsageError('--channels needs --channels-tenant (the tenant that answers them)');
  try {
    return { names: parsed, tenantId: parseTenantId(tenant) };
  } catch (error) {
    throw new UsageError(`--channels-tenant: ${(error as Error).message}`);
  }
}

/** The model client: the emulator (started here, on a free loopback port) or the OpenAI API. */
async function openModel(
  config: ServeConfig,
  env: Env,
): Promise<{ model: ModelClient; label: string; close: () => Promise<void> }> {
  if (config.model === 'openai') {
    if (!env.OPENAI_API_KEY) throw new UsageError('--model openai needs OPENAI_API_KEY');
    const options = {
      ...openAIOptionsFromEnv(env),
      ...(config.openaiBaseUrl ? { baseURL: config.openaiBaseUrl } : {}),
    };
    return {
      model: new OpenAIModelClient(options),
      label: `openai ${config.modelName}${config.openaiBaseUrl ? ` at ${config.openaiBaseUrl}` : ''}`,
      close: () => Promise.resolve(),
    };
  }
  const emulator = await createEmulator({ latency: config.latency }).listen(0, '127.0.0.1');
  return {
    model: new OpenAIModelClient({ apiKey: 'emulator', baseURL: emulator.url }),
    label: `emulator (shop clerk, ${config.latency} latency)`,
    close: emulator.close,
  };
}

/** Loads a tools module: `export default` or `export const tools`, an array or a function of the store. */
export async function loadTools(spec: string, opened: ServiceStoreWithHandles): Promise<Tools> {
  const module = (await import(pathToFileURL(resolve(spec)).href)) as { default?: unknown; tools?: unknown };
  let tools = module.tools ?? module.default;
  if (typeof tools === 'function') tools = await (tools as (s: ServiceStoreWithHandles) => unknown)(opened);
  if (!Array.isArray(tools))
    throw new UsageError(
      `${spec} exports no tools (an array, or a function returning one, as default or \`tools\`)`,
    );
  return tools as Tools;
}

export interface StartOptions {
  /** The web chat widget's options (the demo's page and secret). */
  widget?: WidgetOptions;
  /** Tools, when not from `--tools` (the demo's shop). */
  tools?: (opened: ServiceStoreWithHandles) => Promise<Tools>;
  staticKeys?: Record<string, string>;
  /** Adds routes after the service's (the demo's `/v1/demo/orders`). */
  routes?: (app: Hono<AppEnv>, opened: ServiceStoreWithHandles) => void;
  env?: Env;
  /** Where the service logs (silent without one). */
  logger?: Logger;
}

export interface Running {
  url: string;
  /** The webhook URL of each mounted channel. */
  channels: string[];
  opened: ServiceStoreWithHandles;
  modelLabel: string;
  close(): Promise<void>;
  /**
   * Shuts down gracefully: stops accepting requests (503 with Retry-After on open connections),
   * shuts the service down within `timeoutMs` (see `Service.shutdown`), then closes the listener,
   * the model and the store.
   */
  shutdown(timeoutMs: number): Promise<ShutdownReport>;
}

/**
 * The widget's options: the caller's (the demo's), and for a single-tenant set-up a secret from
 * `GRAFT_WIDGET_SECRET` for the tenant `GRAFT_WIDGET_TENANT` (besides the key store's secrets).
 */
function widgetOptions(given: WidgetOptions | undefined, env: Env): { widget?: WidgetOptions } {
  const secret = env.GRAFT_WIDGET_SECRET;
  if (secret && !env.GRAFT_WIDGET_TENANT)
    throw new UsageError('GRAFT_WIDGET_SECRET needs GRAFT_WIDGET_TENANT (the tenant it signs for)');
  const secrets = {
    ...(secret ? { [parseTenantId(env.GRAFT_WIDGET_TENANT)]: secret } : {}),
    ...given?.secrets,
  };
  if (!given && Object.keys(secrets).length === 0) return {};
  return { widget: { ...given, secrets } };
}

/**
 * The Chat SDK channels, their adapters made from the environment (`chat` and the adapters are
 * optional peer dependencies: imported only when channels are asked for).
 */
async function openChannels(
  settings: NonNullable<ServeConfig['channels']>,
  opened: ServiceStoreWithHandles,
  env: Env,
  logger: Logger | undefined,
  service: () => Service,
): Promise<GraftChannels> {
  const { adaptersFromEnv, chatLogger, createGraftChannels } = await import('../channels/index.js');
  const adapters = await adaptersFromEnv(settings.names, env, chatLogger(logger));
  return createGraftChannels({
    adapters,
    tenantId: settings.tenantId,
    store: opened.store,
    receive: (message) => service().tenants.get(settings.tenantId).receive(message),
    ...(logger ? { logger } : {}),
  });
}

/** Opens the store and the model, starts the service and listens. */
export async function startServe(config: ServeConfig, options: StartOptions = {}): Promise<Running> {
  const env = options.env ?? process.env;
  const opened = await openServiceStoreWithHandles(config.store);
  const model = await openModel(config, env).catch(async (error: unknown) => {
    await opened.close();
    throw error;
  });
  try {
    const tools = config.tools
      ? await loadTools(config.tools, opened)
      : ((await options.tools?.(opened)) ?? []);
    const channels = config.channels
      ? await openChannels(config.channels, opened, env, options.logger, () => service)
      : null;
    const service: Service = createService({
      ...(channels ? { channels } : {}),
      store: opened.store,
      keys: opened.keys,
      model: model.model,
      tools,
      // Several instances may share PostgreSQL: re-read logs while work is in flight, and sweep
      // for conversations whose owner died (SQLite and memory belong to one process).
      graft: {
        modelName: config.modelName,
        mode: config.mode,
        delivery: config.delivery,
        ...(opened.kind === 'postgres' ? { pollMs: 250 } : {}),
      },
      webhook: { url: config.webhookUrl, secret: config.webhookSecret },
      limits: config.limits,
      ...(options.staticKeys ? { staticKeys: options.staticKeys } : {}),
      ...widgetOptions(options.widget, env),
      ...(options.logger ? { logger: options.logger, logText: config.logText } : {}),
    });
    options.routes?.(service.app, opened);
    await service.start();
    const server = await listen(service.app, { port: config.port, hostname: config.host });
    const close = async () => {
      await server.close();
      await service.close();
      await model.close();
      await opened.close();
    };
    const shutdown = async (timeoutMs: number) => {
      server.stopAccepting();
      const report = await service.shutdown({ timeoutMs });
      await server.close();
      await model.close();
      await opened.close();
      return report;
    };
    return {
      url: server.url,
      opened,
      modelLabel: model.label,
      channels: config.channels?.names.map((name) => `${server.url}/v1/channels/${name}`) ?? [],
      close,
      shutdown,
    };
  } catch (error) {
    await model.close();
    await opened.close();
    throw error;
  }
}

/** Waits for SIGINT or SIGTERM, or for `signal` to abort. */
export function untilStopped(signal?: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
  });
}

const HELP = `Usage: graft serve [flags]

Serves graft's HTTP API: POST /v1/conversations/{id}/messages, GET /v1/conversations/{id},
GET /v1/conversations/{id}/events (SSE), GET /v1/conversations, GET /v1/queue, dead letters,
approvals and takeovers (docs/service.md), /healthz, /metrics, and the web dashboard at /.
Clients authenticate with per-tenant API keys (graft keys create --tenant T).
Flags win over environment variables, which win over defaults. On Ctrl-C or SIGTERM it shuts
down gracefully: new requests get 503, attempts in flight are handed to other instances, replies
are tried once more and writes in flight finish, within --shutdown-timeout-ms (exit 0; 1 if work
was still running at the bound). A second signal stops at once.

${flagHelp(serveFlags)}`;

export interface CommandOptions {
  signal?: AbortSignal;
  log?: (line: string) => void;
  env?: Env;
  /** `graft serve`'s logger (default: pino on stdout at `--log-level`). */
  logger?: Logger;
}

/** Reports why the service could not start: 2 for a bad setting, 1 for anything else (a port in use). */
export function startFailed(command: string, error: unknown): number {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`graft ${command}: could not start: ${message}`);
  return (error instanceof GraftError && error.kind === 'invalid-input') || error instanceof TypeError
    ? 2
    : 1;
}

/** `graft serve`: runs the service until stopped; returns the exit code. */
export async function serveCommand(argv: string[], options: CommandOptions = {}): Promise<number> {
  const log = options.log ?? ((line: string) => console.log(line));
  const env = options.env ?? process.env;
  let config: ServeConfig;
  try {
    const parsed = serveConfig(argv, env);
    if (parsed.values.help) {
      log(HELP);
      return 0;
    }
    config = parsed.config;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`graft serve: ${error.message}\n\n${HELP}`);
    return 2;
  }
  let running: Running;
  let logger: Logger;
  try {
    logger = options.logger ?? createLogger(config.logLevel);
  } catch (error) {
    return startFailed('serve', error);
  }
  try {
    running = await startServe(config, { env, logger });
  } catch (error) {
    logger.fatal({ event: 'service.failed', err: error }, 'graft serve could not start');
    return startFailed('serve', error);
  }
  const store = redactUrl(config.store);
  logger.info(
    {
      event: 'service.started',
      url: running.url,
      dashboard: `${running.url}/`,
      store,
      model: running.modelLabel,
    },
    'graft listening',
  );
  log(`graft listening on ${running.url} (store ${store}, model ${running.modelLabel})`);
  log(`dashboard: ${running.url}/ (sign in with a tenant's API key)`);
  for (const url of running.channels) log(`channel webhook: POST ${url}`);
  await untilStopped(options.signal);
  const code = await shutDown(running, config.shutdownTimeoutMs, logger);
  // A tool still running (it is never killed) must not keep the process past its bound.
  if (!options.signal) setTimeout(() => process.exit(code), CLOSE_GRACE_MS).unref();
  return code;
}

/** Time for closing the listener, the model and the store, beyond the drain. */
const CLOSE_GRACE_MS = 2_000;

/**
 * The graceful shutdown of `graft serve` and `graft demo`: 0 when work in flight settled (or was
 * handed off) within `timeoutMs`, 1 when it had to give up (a write still running keeps its lease
 * until it expires, then another instance reconciles it) or closing failed.
 */
export async function shutDown(running: Running, timeoutMs: number, logger: Logger): Promise<number> {
  logger.info({ event: 'service.stopping', timeoutMs }, 'graft stopping');
  const closeBound = new Promise<'timeout'>((resolve) =>
    setTimeout(() => resolve('timeout'), timeoutMs + CLOSE_GRACE_MS).unref(),
  );
  try {
    const report = await Promise.race([running.shutdown(timeoutMs), closeBound]);
    if (report === 'timeout') {
      logger.error({ event: 'service.stopped', settled: false }, 'graft stopped: closing timed out');
      return 1;
    }
    const { settled, released, running: left } = report;
    if (settled) logger.info({ event: 'service.stopped', settled, released }, 'graft stopped');
    else
      logger.warn(
        { event: 'service.stopped', settled, released, running: left },
        'graft stopped with work still running',
      );
    return settled ? 0 : 1;
  } catch (error) {
    logger.error({ event: 'service.stopped', err: error }, 'graft could not stop cleanly');
    return 1;
  }
}
