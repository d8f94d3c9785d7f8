import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postJson } from './http.js';

/**
 * The systems under comparison, each in a process of its own (separate from the emulator and
 * from the harness), each taking customer messages over HTTP and POSTing its replies to the
 * harness. `start` spawns one; `send` hands it a customer message and resolves once it is
 * accepted.
 */

export interface SystemSpec {
  /** A slug: the conversation ids' prefix and the system's path at the counting proxy. */
  id: string;
  /** The name in tables and plots. */
  name: string;
  /** What it is, for BENCHMARKS.md. */
  description: string;
  /** Left out of the default run; `--systems` names it to run it. */
  optional?: boolean;
  start(context: StartContext): Promise<RunningSystem>;
}

export interface StartContext {
  /** The counting proxy's base URL for this system (…/<name>/v1). */
  modelUrl: string;
  /** Where this system POSTs its replies. */
  replyUrl: string;
  shopUrl: string;
  /** The shop's tools as a module (scripts/peers/tools-module.ts), for graft and the peers alike. */
  toolsModule: string;
}

export interface RunningSystem {
  send(conversationId: string, id: string, text: string): Promise<void>;
  /** The process's resident set size, in bytes (from /proc), or null. */
  pid: number;
  close(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Spawns a process and resolves with the first stdout match of `ready` (its first group). */
export function spawnReady(
  command: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  label: string,
  timeoutMs = 60_000,
): Promise<{ child: ChildProcess; match: string }> {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
    if (process.env.PEERS_VERBOSE) process.stderr.write(`[${label}] ${chunk.toString()}`);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`${label} did not start in ${timeoutMs} ms:\n${stderr}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = ready.exec(out);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve({ child, match: match[1]! });
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code} before it was ready:\n${stderr}`));
    });
  });
}

/** Stops a child process (SIGTERM, then SIGKILL after 5 s). */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A peer bot from scripts/peers/, run with tsx, driven through its `POST /messages`. */
function peer(id: string, name: string, script: string, args: string[], description: string): SystemSpec {
  return {
    id,
    name,
    description,
    async start(context) {
      const { child, match: url } = await spawnReady(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'scripts/peers', script), ...args],
        {
          PEERS_MODEL_URL: context.modelUrl,
          PEERS_REPLY_URL: context.replyUrl,
          PEERS_SHOP_URL: context.shopUrl,
          PEERS_TOOLS_MODULE: context.toolsModule,
        },
        /PEER_LISTENING (\S+)/,
        name,
      );
      return {
        pid: child.pid!,
        send: async (conversationId, id, text) => {
          await postJson(`${url}/messages`, { conversationId, id, text });
        },
        close: () => stopChild(child),
      };
    },
  };
}

/** `graft serve` over HTTP: SQLite in a temporary directory, the model through the proxy. */
export function graftSystem(id = 'graft', name = 'graft'): SystemSpec {
  return {
    id,
    name,
    description:
      '`graft serve` (SQLite, chain mode) with `--model openai --openai-base-url <proxy>` and `--tools` (the module of scripts/peers/tools-module.ts); messages by `POST /v1/conversations/{id}/messages`, replies by webhook',
    async start(context) {
      const dir = mkdtempSync(join(tmpdir(), 'graft-peers-'));
      const store = `sqlite:${join(dir, 'graft.db')}`;
      const env = { PEERS_SHOP_URL: context.shopUrl, OPENAI_API_KEY: 'bench' };
      const bin = join(ROOT, 'bin/graft.js');
      const keys = await spawnReady(
        process.execPath,
        [bin, 'keys', 'create', '--tenant', 'bench', '--store', store],
        env,
        /^(\S+)\s*$/m,
        `${name} keys`,
      );
      await new Promise<void>((resolve) => {
        if (keys.child.exitCode !== null) resolve();
        else keys.child.once('exit', () => resolve());
      });
      const apiKey = keys.match;
      const { child, match: url } = await spawnReady(
        process.execPath,
        [
          bin,
          'serve',
          '--port',
          '0',
          '--store',
          store,
          '--model',
          'openai',
          '--openai-base-url',
          context.modelUrl,
          '--tools',
          context.toolsModule,
          '--webhook-url',
          context.replyUrl,
          '--log-level',
          'warn',
          '--rate-burst',
          '1000',
          '--rate-per-minute',
          '6000',
        ],
        env,
        /graft listening on (\S+)/,
        name,
      );
      const headers = { authorization: `Bearer ${apiKey}` };
      return {
        pid: child.pid!,
        send: async (conversationId, id, text) => {
          await postJson(
            `${url}/v1/conversations/${encodeURIComponent(conversationId)}/messages`,
            { id, text },
            headers,
          );
        },
        close: async () => {
          await stopChild(child);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

/** Every system of the comparison, graft first. */
export function allSystems(): SystemSpec[] {
  return [
    graftSystem(),
    peer(
      'seed-agents',
      'seed (Agents SDK)',
      'seed-agents-bot.ts',
      [],
      "the seed's bot on `@openai/agents` 0.14.3: `run()` per message with `previousResponseId` = head and every unanswered message; a newer message starts a parallel run, the older output is discarded",
    ),
    peer(
      'chat-queue',
      'Chat SDK queue',
      'chat-sdk-bot.ts',
      ['--strategy', 'queue'],
      "`chat` 4.41.0 with `concurrency: 'queue'` (the latest queued message, the others as `context.skipped`), AI SDK 6 `generateText` on `openai.responses()`",
    ),
    peer(
      'chat-burst',
      'Chat SDK burst',
      'chat-sdk-bot.ts',
      ['--strategy', 'burst'],
      "`chat` 4.41.0 with `concurrency: { strategy: 'burst', debounceMs: 1500 }` (its default window), AI SDK 6",
    ),
    peer(
      'chat-concurrent',
      'Chat SDK concurrent',
      'chat-sdk-bot.ts',
      ['--strategy', 'concurrent'],
      "`chat` 4.41.0 with `concurrency: 'concurrent'` (a handler per message, no lock), AI SDK 6",
    ),
    peer(
      'langgraph',
      'LangGraph (no server)',
      'langgraph-bot.ts',
      [],
      "`@langchain/langgraph` 1.7.3 prebuilt ReAct agent, `ChatOpenAI` (`@langchain/openai` 1.4.7, `useResponsesApi`), `MemorySaver`; one `invoke` per message on the conversation's thread, no server and so no double-texting strategy",
    ),
    ...(['interrupt', 'rollback', 'enqueue', 'reject'] as const).map((strategy) => ({
      ...peer(
        `langgraph-${strategy}`,
        `LangGraph ${strategy}`,
        'langgraph-server-bot.ts',
        ['--strategy', strategy],
        `the same agent served by the LangGraph Agent Server (\`@langchain/langgraph-api\` 1.5.1, in memory, on 127.0.0.1), driven with \`@langchain/langgraph-sdk\` 1.15.0: \`runs.create\` per message with \`multitaskStrategy: '${strategy}'\`, the reply of each run that succeeds`,
      ),
      // reject only drops the burst's later messages: run on request, to keep the default run short.
      optional: strategy === 'reject',
    })),
  ];
}
