import { randomBytes } from 'node:crypto';
import type { Hono } from 'hono';
import { defaultCatalogue } from '../demo/shop/catalogue.js';
import { createMemoryShop } from '../demo/shop/shop.js';
import type { AsyncShop } from '../demo/shop/sql-shop.js';
import {
  asyncShop,
  createAsyncShopTools,
  createPostgresShop,
  createSqliteShop,
} from '../demo/shop/sql-shop.js';
import type { AppEnv } from '../server/app.js';
import type { ServiceStoreWithHandles } from '../server/store-handles.js';
import { defineTool } from '../tools/define-tool.js';
import type { FlagSpec } from '../util/args.js';
import { flagHelp, intFlag } from '../util/args.js';
import type { CommandOptions, Running } from './serve-command.js';
import { pino } from 'pino';
import { createLogger } from './logger.js';
import { serveConfig, serveFlags, startFailed, startServe, untilStopped } from './serve-command.js';

const demoFlags: FlagSpec = {
  ...serveFlags,
  'tool-latency-ms': {
    type: 'string',
    help: "how long each shop tool takes, as a real shop's API would [env GRAFT_TOOL_LATENCY_MS]",
    default: '300',
  },
};

/** The demo's one tenant. */
export const DEMO_TENANT = 'demo';

const HELP = `Usage: graft demo [flags]

Runs the demo: graft's HTTP service, the shop clerk behind a local Responses API emulator (no
API key needed), and the demo shop (its products and orders in graft's own database). Accepts the
API key 'demo' (or GRAFT_DEMO_API_KEY when set). The web dashboard is at / (sign in with the key). GET /v1/demo/orders lists the shop's orders.
With --channels telegram (and TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET_TOKEN set; a fake token
will do) it accepts Telegram updates at POST /v1/channels/telegram (docs/channels.md).
A cancellation needs a person's approval: GET /v1/approvals lists the requests, and
POST /v1/approvals/{id} approves or rejects one. Takes every flag of 'graft serve', and:

${flagHelp(demoFlags)}`;

/** The shop in the demo's own database: SQLite or PostgreSQL tables beside the events, or memory. */
async function openShop(opened: ServiceStoreWithHandles): Promise<AsyncShop> {
  if (opened.database) return createSqliteShop(opened.database);
  if (opened.sql) return createPostgresShop(opened.sql);
  return asyncShop(createMemoryShop(defaultCatalogue, { now: Date.now }));
}

/** `GET /v1/demo/orders`: every order of the shop, the ground truth for checks. */
function orderRoutes(app: Hono<AppEnv>, shop: () => AsyncShop | null): void {
  app.get('/v1/demo/orders', async (c) => {
    const orders = (await shop()?.orders()) ?? [];
    return c.json({
      orders: orders.map((o) => ({
        orderId: o.orderId,
        conversationId: o.conversationId,
        items: o.items,
        status: o.status,
        idempotencyKey: o.idempotencyKey,
        createdAt: o.createdAt ?? null,
      })),
    });
  });
}

/** Curl lines that try the demo out. */
export function demoExamples(url: string, key: string): string {
  const auth = `-H 'Authorization: Bearer ${key}'`;
  const json = `${auth} -H 'Content-Type: application/json'`;
  const post = (id: string, text: string) =>
    `curl -s -X POST ${url}/v1/conversations/c1/messages ${json} -d '{"id":"${id}","text":"${text}"}'`;
  return [
    '# Send a message (202 once it is stored), then a burst while the first is being answered:',
    post('m1', 'I want 2 pizzas.'),
    `${post('m2', 'Add a cola.')}; ${post('m3', 'Please add a salad.')}`,
    '# Watch it live (server-sent events), see the conversation, and the orders the shop holds:',
    `curl -N ${url}/v1/conversations/c1/events ${auth}`,
    `curl -s ${url}/v1/conversations/c1 ${auth}`,
    `curl -s ${url}/v1/demo/orders ${auth}`,
    `npx graft inspect c1 --url ${url} --api-key ${key}`,
    "# A cancellation waits for a colleague's approval: list the requests, then approve one (its id in",
    '# place of ID; or send {"decision":"reject","note":"…"}): either way the customer gets a follow-up.',
    post('m4', 'Please cancel my order.'),
    `curl -s ${url}/v1/approvals ${auth}`,
    `curl -s -X POST ${url}/v1/approvals/ID ${json} -d '{"decision":"approve","operator":"ana"}'`,
  ].join('\n');
}

/** Starts the demo (for tests and `graft demo`); resolves once it listens. */
export async function startDemo(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): Promise<Running & { apiKey: string }> {
  // The demo's channels answer as its one tenant, whose key the dashboard signs in with.
  const { config, values } = serveConfig(argv, { ...env, GRAFT_CHANNELS_TENANT: DEMO_TENANT }, demoFlags);
  const given = values['tool-latency-ms'];
  const toolLatencyMs = intFlag(
    'tool-latency-ms',
    typeof given === 'string' ? given : (env.GRAFT_TOOL_LATENCY_MS ?? '300'),
    { max: 600_000 },
  );
  const apiKey = env.GRAFT_DEMO_API_KEY || 'demo';
  let shop: AsyncShop | null = null;
  // The demo prints its own lines on stdout; its log (failures only, unless a level is given) goes to stderr.
  const level = values['log-level'] !== undefined || env.GRAFT_LOG_LEVEL ? config.logLevel : 'warn';
  const running = await startServe(config, {
    env,
    logger: createLogger(level, pino.destination(2)),
    staticKeys: { [apiKey]: DEMO_TENANT },
    tools: async (opened) => {
      shop = await openShop(opened);
      // A cancellation waits for a person's approval (GET /v1/approvals, POST /v1/approvals/{id}).
      return createAsyncShopTools(shop, { cancelApproval: true }).map((tool) =>
        defineTool<unknown>({
          ...tool,
          run: async (args, ctx) => {
            await new Promise((done) => setTimeout(done, toolLatencyMs));
            return tool.run(args, ctx);
          },
        }),
      );
    },
    routes: (app) => orderRoutes(app, () => shop),
    // The web chat: /widget/demo signs a token for a new customer with this run's secret.
    widget: {
      secrets: { [DEMO_TENANT]: randomBytes(32).toString('base64url') },
      demo: { tenant: DEMO_TENANT },
    },
  });
  return { ...running, apiKey };
}

/** `graft demo`: serve + the emulator's shop clerk + the shop, until stopped. */
export async function demoCommand(argv: string[], options: CommandOptions = {}): Promise<number> {
  const log = options.log ?? ((line: string) => console.log(line));
  const env = options.env ?? process.env;
  if (argv.includes('--help') || argv.includes('-h')) {
    log(HELP);
    return 0;
  }
  let running: Awaited<ReturnType<typeof startDemo>>;
  try {
    running = await startDemo(argv, env);
  } catch (error) {
    return startFailed('demo', error);
  }
  const shown = running.url.replace('://127.0.0.1:', '://localhost:');
  log(`graft demo listening on ${shown}`);
  log(
    `dashboard: ${shown}/ (sign in with the API key ${running.apiKey}; try "Example race" in a new conversation)`,
  );
  log(`store: ${running.opened.kind} · model: ${running.modelLabel} · API key: ${running.apiKey}`);
  log(`web chat: ${shown}/widget/demo (a new customer each time; docs/widget.md)`);
  for (const url of running.channels)
    log(`channel webhook: POST ${url.replace('://127.0.0.1:', '://localhost:')}`);
  log('');
  log(demoExamples(shown, running.apiKey));
  await untilStopped(options.signal);
  await running.close();
  return 0;
}
