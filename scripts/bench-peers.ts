/**
 * `npm run bench:peers`: graft side by side with real peers — the seed's bot on the OpenAI Agents
 * SDK, a Chat SDK bot (queue, burst, concurrent) on the AI SDK, and LangGraph JS (plain, and on the
 * LangGraph Agent Server with its double-texting strategies) — each its own
 * process, all against ONE emulator process (`bin/graft-emulator.js`, realistic latency), one
 * shared shop (the demo's tools, 300 ms each) and the same customers, interleaved round by round.
 * Model calls and tokens are counted in one place (a counting proxy in front of the emulator);
 * latency is measured on one clock (this process's) from a burst's last message to the delivered
 * reply that covers it; duplicates and missing orders come from the shop's orders.
 *
 * Flags: --rounds N (2), --conversations N per system and round (6), --seed N (1),
 * --profile burst|double-text, --systems id,id,… (all but langgraph-reject), --tool-latency-ms N (300),
 * --think-ms N (500), --no-record (print only; by default the figures go to BENCHMARKS.md and
 * the plots to docs/peers-*.svg). See docs/peers.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { recordSection } from './benchmarks-file.js';
import { ReplyBook, runBatch, type BatchResult } from './peers/batch.js';
import { startCountingProxy } from './peers/counting-proxy.js';
import { listenJson, sleep } from './peers/http.js';
import { figuresOf, markdownTable, ratioTable, textTable, type SystemFigures } from './peers/report.js';
import { startSharedShop } from './peers/shop-server.js';
import { allSystems, spawnReady, stopChild, type RunningSystem, type SystemSpec } from './peers/systems.js';
import { barPlot, cdfPlot, PALETTE } from './peers/svg.js';
import { writeToolsModule } from './peers/tools-module.js';
import { conversationPlan, type Profile } from './peers/workload.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    conversations: { type: 'string', default: '6' },
    seed: { type: 'string', default: '1' },
    profile: { type: 'string', default: 'burst' },
    systems: { type: 'string' },
    'tool-latency-ms': { type: 'string', default: '300' },
    'think-ms': { type: 'string', default: '500' },
    'no-record': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run bench:peers -- [--rounds 2] [--conversations 6] [--seed 1] [--profile burst|double-text]\n' +
      '                      [--systems graft,seed-agents,chat-queue,chat-burst,chat-concurrent,langgraph,\n' +
      '                                 langgraph-interrupt,langgraph-rollback,langgraph-enqueue[,langgraph-reject]]\n' +
      '                      [--tool-latency-ms 300] [--think-ms 500] [--no-record]',
  );
  process.exit(0);
}
const int = (name: string, value: string | undefined) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
  return n;
};
const rounds = Math.max(1, int('rounds', values.rounds));
const conversations = Math.max(1, int('conversations', values.conversations));
const seed = int('seed', values.seed);
const toolLatencyMs = int('tool-latency-ms', values['tool-latency-ms']);
const thinkMs = int('think-ms', values['think-ms']);
const profile = values.profile as Profile;
if (profile !== 'burst' && profile !== 'double-text')
  throw new Error('--profile must be burst or double-text');
const wanted = values.systems?.split(',').map((s) => s.trim());
const specs = allSystems().filter((s) => (wanted ? wanted.includes(s.id) : !s.optional));
if (specs.length === 0)
  throw new Error(
    `--systems matched none of ${allSystems()
      .map((s) => s.id)
      .join(', ')}`,
  );

const batchOptions = {
  staggerMs: 250,
  thinkMs,
  replyTimeoutMs: profile === 'double-text' ? 40_000 : 12_000,
  quietMs: 1_500,
  quietTimeoutMs: 30_000,
};

const began = performance.now();
const log = (line: string) =>
  console.log(`[${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);

// One emulator process for every system, realistic latency (500 ms to the first token, 20 ms a token).
const emulator = await spawnReady(
  process.execPath,
  ['bin/graft-emulator.js', '--port', '0', '--latency', 'realistic', '--seed', String(seed)],
  {},
  /listening on (\S+)/,
  'emulator',
);
const scratch = mkdtempSync(join(tmpdir(), 'bench-peers-'));
const toolsModule = writeToolsModule(scratch);
const shop = await startSharedShop(toolLatencyMs);
const proxy = await startCountingProxy(emulator.match);
const replies = new ReplyBook();
const replyServer = await listenJson((path, body) => {
  const reply = body as {
    conversationId?: string;
    text?: string;
    covers?: string[];
    failed?: boolean;
  } | null;
  if (!path.startsWith('/reply/') || !reply?.conversationId) return [404, { error: 'not found' }];
  if (reply.failed) {
    replies.fail(reply.conversationId, reply.covers ?? [], performance.now());
    return [200, { ok: true }];
  }
  replies.add({
    conversationId: reply.conversationId,
    text: reply.text ?? '',
    covers: reply.covers ?? [],
    at: performance.now(),
  });
  return [200, { ok: true }];
});
log(`emulator ${emulator.match}, shop ${shop.url}, proxy, replies ${replyServer.url}`);

const running = new Map<string, RunningSystem>();
const closeAll = async () => {
  for (const system of running.values()) await system.close().catch(() => undefined);
  await replyServer.close();
  await proxy.close();
  await shop.close();
  await stopChild(emulator.child);
  rmSync(scratch, { recursive: true, force: true });
};

try {
  for (const spec of specs) {
    running.set(
      spec.id,
      await spec.start({
        modelUrl: proxy.baseUrl(spec.id),
        replyUrl: `${replyServer.url}/reply/${spec.id}`,
        shopUrl: shop.url,
        toolsModule,
      }),
    );
    log(`started ${spec.name}`);
  }
  await warmUp(specs);

  const batches = new Map<string, BatchResult[]>(specs.map((s) => [s.id, []]));
  for (let round = 0; round < rounds; round += 1) {
    const plans = Array.from({ length: conversations }, (_, i) => conversationPlan(seed, round, i, profile));
    // Each round starts with another system, so no system always runs first or last.
    const order = specs.map((_, i) => specs[(i + round) % specs.length]!);
    for (const spec of order) {
      const result = await runBatch(
        { spec, system: running.get(spec.id)!, proxy, shop, replies },
        round,
        plans,
        batchOptions,
      );
      batches.get(spec.id)!.push(result);
      const f = figuresOf(spec.id, spec.name, [result]);
      log(
        `round ${round + 1}/${rounds} ${spec.name}: ${(result.durationMs / 1000).toFixed(1)} s, duplicates ${f.duplicates}, missing ${f.missing}, replies/burst ${f.repliesPerBurst.toFixed(2)}, p50 ${Math.round(f.p50)} ms, calls ${f.calls}`,
      );
    }
  }
  await closeAll();
  const figures = specs.map((s) => figuresOf(s.id, s.name, batches.get(s.id)!));
  const totalS = (performance.now() - began) / 1000;
  console.log(`\n${textTable(figures)}\n`);
  const graft = figures.find((f) => f.id === 'graft');
  const peers = figures.filter((f) => f.id !== 'graft');
  if (graft && peers.length > 0) console.log(`${ratioTable(graft, peers)}\n`);
  console.log(`run time ${totalS.toFixed(0)} s`);
  if (!values['no-record']) record(figures, specs, totalS);
} catch (error) {
  await closeAll();
  throw error;
}

/** One message per system first (not counted): processes loaded, connections open, code warm. */
async function warmUp(list: SystemSpec[]): Promise<void> {
  await Promise.all(
    list.map(async (spec) => {
      const conversationId = `${spec.id}-warmup`;
      await running.get(spec.id)!.send(conversationId, `${conversationId}.w1`, 'What do you sell?');
      const deadline = performance.now() + 30_000;
      while (!replies.covering(conversationId, `${conversationId}.w1`) && performance.now() < deadline)
        await sleep(50);
      if (!replies.covering(conversationId, `${conversationId}.w1`))
        throw new Error(`${spec.name} did not answer the warm-up message`);
    }),
  );
  await sleep(2_000);
  log('warmed up');
}

function record(figures: SystemFigures[], list: SystemSpec[], totalS: number): void {
  const suffix = profile === 'burst' ? '' : `-${profile}`;
  const colors = new Map(figures.map((f, i) => [f.id, PALETTE[i % PALETTE.length]!]));
  const cdfFile = `docs/peers${suffix}-latency-cdf.svg`;
  const dupFile = `docs/peers${suffix}-duplicates.svg`;
  const runLine = `${rounds} rounds × ${conversations} conversations × 3 bursts per system, profile ${profile}, seed ${seed}`;
  writeFileSync(
    new URL(`../${cdfFile}`, import.meta.url),
    cdfPlot(
      figures.map((f) => ({
        name: f.name,
        color: colors.get(f.id)!,
        values: f.latenciesMs,
        total: f.bursts,
        emphasis: f.id === 'graft',
      })),
      {
        title: `From a burst's last message to the reply that covers it (${profile})`,
        xLabel: 'latency (log scale), measured by the harness',
        note: `${runLine}; realistic emulator latency, tools ${toolLatencyMs} ms. A curve that stops short of 100% has bursts no reply covered.`,
      },
    ),
  );
  writeFileSync(
    new URL(`../${dupFile}`, import.meta.url),
    barPlot(
      figures.map((f) => ({
        name: f.name,
        values: [f.duplicates, f.missing, f.multiReplyBursts],
      })),
      {
        title: `Duplicate writes, wrong final orders and extra replies (${profile})`,
        yLabel: 'count over the run',
        measures: [
          { name: 'duplicate writes', color: '#D55E00' },
          { name: 'conversations with a wrong order', color: '#E69F00' },
          { name: 'bursts with more than one reply', color: '#56B4E9' },
        ],
        note: `${runLine}. Ground truth: the shared shop's orders per conversation.`,
      },
    ),
  );
  const graft = figures.find((f) => f.id === 'graft');
  const peers = figures.filter((f) => f.id !== 'graft');
  const cpu = cpus();
  const section = [
    `## Side by side with real peers${profile === 'burst' ? '' : ` (${profile})`} (\`npm run bench:peers${profile === 'burst' ? '' : ` -- --profile ${profile}`}\`)`,
    '',
    `${new Date().toISOString().slice(0, 10)}, ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, Node ${process.version}. ` +
      `${runLine}; the systems ran one at a time, interleaved round by round (each round starts with the next system). ` +
      `One emulator process (\`bin/graft-emulator.js --latency realistic\`: 500 ms to the first token, 20 ms a token), ` +
      `one shared shop (the demo's five tools, ${toolLatencyMs} ms each), the same customers for every system. Run time ${totalS.toFixed(0)} s. ` +
      'How it works and what each peer is: [docs/peers.md](docs/peers.md).',
    '',
    markdownTable(figures),
    '',
    ...(graft && peers.length > 0 ? [ratioTable(graft, peers), ''] : []),
    `![Latency CDF of each system](${cdfFile})`,
    '',
    `![Duplicate writes, wrong orders and extra replies per system](${dupFile})`,
    '',
    "Duplicate writes: orders beyond the first in a conversation plus writes that changed nothing (the simulator's definition). " +
      "Missing: conversations whose shop orders are not what the customer asked for in the end. Latency: from a burst's last " +
      'message (sent by the harness) to the arrival, at the harness, of the first reply that covers it; unanswered bursts have none. ' +
      'Calls and tokens: every `POST /v1/responses` through the counting proxy, per burst; the input of a call the client aborted is ' +
      'measured by sending it again with `max_output_tokens: 16` (the emulator bills the whole context).',
    '',
    'Systems: ' + list.map((s) => `**${s.name}**: ${s.description}`).join('; ') + '.',
  ].join('\n');
  recordSection(`peers${suffix}`, section);
  console.log(`wrote ${cdfFile}, ${dupFile} and BENCHMARKS.md (section peers${suffix})`);
}
