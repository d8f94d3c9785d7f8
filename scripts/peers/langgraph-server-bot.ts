/**
 * LangGraph with its double-texting strategies: the LangGraph Agent Server
 * (`@langchain/langgraph-api` 1.5.1, the JS server that `langgraph dev` runs) in this process,
 * in memory, on 127.0.0.1, serving the same ReAct shop agent as the plain LangGraph bot
 * (scripts/peers/langgraph-graph.ts), driven with the official client (`@langchain/langgraph-sdk`
 * 1.15.0 `Client`) as a team's webhook handler would: one thread per conversation; on each
 * customer message `client.runs.create(thread, 'shop', { input, multitaskStrategy })`, then
 * `client.runs.join` and `client.runs.get`; a run that ends `success` delivers the thread's last
 * AI message, covering the customer messages of the thread it answered (the human messages in
 * its final state no earlier reply covered). A run the server interrupted or rolled back for a
 * newer one delivers nothing; a run refused (`reject`: HTTP 422) or failed on its own is
 * reported as failed for its messages.
 *
 * `--strategy interrupt|rollback|enqueue|reject` is the run's `multitaskStrategy`.
 *
 * The server is started as `langgraph dev`'s child process starts it (`startServer` from
 * `@langchain/langgraph-api/server`, 10 queue workers, `langgraph dev`'s default), minus the CLI:
 * no Studio, no browser, no CLI analytics, no LangSmith. Storage is the dev server's in-memory
 * store, flushed to JSON files in a temporary directory. Tracing is off and ./loopback-only.js
 * refuses any connection or DNS lookup off 127.0.0.1.
 */
import { blocked } from './loopback-only.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { textOf } from './langgraph-agent.js';
import { deliver, reportFailure, servePeer } from './peer-shell.js';

const STRATEGIES = ['interrupt', 'rollback', 'enqueue', 'reject'] as const;
type Strategy = (typeof STRATEGIES)[number];
const { values } = parseArgs({ options: { strategy: { type: 'string', default: 'interrupt' } } });
const strategy = values.strategy as Strategy;
if (!STRATEGIES.includes(strategy)) throw new Error(`unknown strategy ${strategy}`);
const NAME = `langgraph-server-${strategy}`;

// Before the server's modules load (its logger reads LOG_LEVEL when imported): no tracing, no
// telemetry, warnings only.
Object.assign(process.env, {
  LANGSMITH_TRACING: 'false',
  LANGSMITH_TRACING_V2: 'false',
  LANGCHAIN_TRACING: 'false',
  LANGCHAIN_TRACING_V2: 'false',
  LANGCHAIN_CALLBACKS_BACKGROUND: 'true',
  LANGGRAPH_CLI_NO_ANALYTICS: '1',
  LOG_LEVEL: process.env.PEERS_VERBOSE ? 'info' : 'warn',
});
const { startServer } = await import('@langchain/langgraph-api/server');
const { Client } = await import('@langchain/langgraph-sdk');

const GRAPH = 'shop';
const dir = mkdtempSync(join(tmpdir(), 'langgraph-api-'));
const server = await startServer({
  port: 0,
  nWorkers: 10,
  host: '127.0.0.1',
  cwd: dir,
  graphs: { [GRAPH]: `${fileURLToPath(new URL('./langgraph-graph.ts', import.meta.url))}:graph` },
});
const client = new Client({ apiUrl: `http://${server.host}` });

interface Conversation {
  threadId: Promise<string>;
  /** Customer message ids a delivered reply already covered. */
  covered: Set<string>;
  /** The newest run created on the thread: an older run that does not succeed was superseded. */
  newest: string | null;
}
const conversations = new Map<string, Conversation>();

function conversation(id: string): Conversation {
  let found = conversations.get(id);
  if (!found) {
    found = {
      threadId: client.threads.create({ metadata: { conversation_id: id } }).then((t) => t.thread_id),
      covered: new Set(),
      newest: null,
    };
    conversations.set(id, found);
  }
  return found;
}

interface StateMessage {
  type?: string;
  id?: string;
  content?: unknown;
}

process.on('exit', () => {
  rmSync(dir, { recursive: true, force: true });
  if (blocked.length > 0) console.error(`LOOPBACK_ONLY ${blocked.length} connection(s) refused`);
});

await servePeer(NAME, (message) => {
  void (async () => {
    const state = conversation(message.conversationId);
    let runId: string;
    let threadId: string;
    try {
      threadId = await state.threadId;
      const run = await client.runs.create(threadId, GRAPH, {
        input: { messages: [{ role: 'user', content: message.text, id: message.id }] },
        multitaskStrategy: strategy,
        config: { configurable: { conversation_id: message.conversationId }, recursion_limit: 20 },
      });
      runId = run.run_id;
      state.newest = runId;
    } catch (error) {
      // reject: the server refused the run while the thread is busy; the message is dropped.
      await reportFailure(NAME, message.conversationId, [message.id], error);
      return;
    }
    try {
      const values = (await client.runs.join(threadId, runId)) as {
        messages?: StateMessage[];
        __error__?: { error?: string; message?: string };
      } | null;
      const run = await client.runs.get(threadId, runId).catch(() => null);
      if (run?.status === 'success') {
        const messages = values?.messages ?? [];
        const covers = messages
          .filter((m) => m.type === 'human' && m.id && !state.covered.has(m.id))
          .map((m) => m.id!);
        for (const id of covers) state.covered.add(id);
        const last = messages[messages.length - 1];
        await deliver({
          conversationId: message.conversationId,
          text: last?.type === 'ai' ? textOf(last.content) : '',
          covers,
        });
      } else if (state.newest === runId || (strategy !== 'interrupt' && strategy !== 'rollback')) {
        const why = values?.__error__ ? `: ${values.__error__.error}: ${values.__error__.message}` : '';
        throw new Error(`run ${runId} ended ${run?.status ?? 'deleted'}${why}`);
      }
      // else: interrupted or rolled back for a newer run on the thread, which answers instead.
    } catch (error) {
      const pending = [message.id].filter((id) => !state.covered.has(id));
      await reportFailure(NAME, message.conversationId, pending, error);
    }
  })();
});
