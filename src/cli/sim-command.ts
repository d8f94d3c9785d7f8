import { availableParallelism } from 'node:os';
import { COVERAGE_MIN_CONVERSATIONS, missingCoverage } from '../sim/coverage.js';
import type { SimOptions, Strategy, World } from '../sim/run.js';
import { ALL_STRATEGIES, PEER_STRATEGIES, STRATEGIES, WORLDS, runSim } from '../sim/run.js';
import type { WorkloadName } from '../sim/workload.js';
import { WORKLOADS } from '../sim/workload.js';
import { formatTable } from '../sim/table.js';
import type { FlagSpec } from '../util/args.js';
import { UsageError, flagHelp, intFlag, parseFlags } from '../util/args.js';

const flags: FlagSpec = {
  conversations: { type: 'string', help: 'simulated conversations per strategy', default: '1000' },
  first: {
    type: 'string',
    help: 'index of the first conversation (replay conv_N alone: --first N --conversations 1)',
    default: '0',
  },
  seed: { type: 'string', help: 'seed of the workload, latencies and faults', default: '1' },
  strategy: {
    type: 'string',
    help: `one of ${ALL_STRATEGIES.join(', ')}, several joined by commas, all (${STRATEGIES.join(', ')}), or peers (graft, ${PEER_STRATEGIES.join(', ')})`,
    default: 'all',
  },
  workload: {
    type: 'string',
    help: `the customers: ${Object.keys(WORKLOADS).join(' | ')} (23% of conversations with one double text, gaps log-normal around 10 s)`,
    default: 'default',
  },
  world: {
    type: 'string',
    help: 'polite | adversarial (hostile model and tools, 2-3 stalling instances)',
    default: 'polite',
  },
  threads: {
    type: 'string',
    help: 'worker threads per strategy (same results; default: the cores in the adversarial world, else 1)',
  },
  faults: { type: 'boolean', help: 'add model 429/500s, stalls past the timeout and tool failures' },
  policy: {
    type: 'string',
    help: "graft's policy when a superseded attempt's write settles or read answers during a first call: restart | rebase",
    default: 'restart',
  },
  json: { type: 'boolean', help: 'print the figures as JSON (byte-identical for the same flags)' },
  help: { type: 'boolean', help: 'show this help' },
};

const HELP = `Usage: graft sim [flags]

Runs the deterministic simulator: the same customers, latencies and faults for every strategy,
graft against the strategies teams use today. Exits 1 if graft breaks a guarantee, or if a run of
the adversarial world (${COVERAGE_MIN_CONVERSATIONS}+ conversations) never reached one of the paths it
exists to exercise (a coverage counter is 0).

${flagHelp(flags)}`;

export async function simCommand(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseFlags(argv, flags);
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const strategies = parseStrategies(values.strategy as string);
    const workloadName = values.workload as string;
    if (!Object.hasOwn(WORKLOADS, workloadName))
      throw new UsageError(`--workload must be ${Object.keys(WORKLOADS).join(' or ')}`);
    const policy = values.policy;
    if (policy !== 'restart' && policy !== 'rebase')
      throw new UsageError(`--policy must be restart or rebase`);
    const world = values.world as World;
    if (!WORLDS.includes(world)) throw new UsageError(`--world must be ${WORLDS.join(' or ')}`);
    const threads =
      values.threads === undefined
        ? world === 'adversarial'
          ? availableParallelism()
          : 1
        : intFlag('threads', values.threads, { min: 1, max: 64 });
    const options: SimOptions = {
      seed: intFlag('seed', values.seed, { max: 2 ** 31 - 1 }),
      conversations: intFlag('conversations', values.conversations, { min: 1, max: 10_000_000 }),
      first: intFlag('first', values.first, { max: 10_000_000 }),
      threads,
      strategies,
      faults: values.faults === true,
      world,
      onSettleDuringFirstCall: policy,
      onProgress: progress(),
      // The default profile is left unset, so that each world keeps its own customers.
      ...(workloadName === 'default' ? {} : { workload: WORKLOADS[workloadName as WorkloadName] }),
    };
    const { result, details } = await runSim(options);
    process.stderr.write(process.stderr.isTTY ? '\r\x1b[K' : '');
    console.log(values.json ? JSON.stringify(result, null, 2) : formatTable(result));
    const broken = details.graft?.violations ?? [];
    for (const v of broken.slice(0, 20))
      console.error(
        `graft violation (seed ${options.seed}, ${v.conversationId}): guarantee ${v.guarantee}: ${v.detail}`,
      );
    if (broken.length > 20) console.error(`graft: ${broken.length} violations in all`);
    if (broken[0])
      console.error(`replay the first alone: ${replayCommand(options, broken[0].conversationId)}`);
    const uncovered = result.coverage ? missingCoverage(result.coverage, result.conversations) : [];
    for (const name of uncovered)
      console.error(`graft coverage: ${name} is 0 (the adversarial world never reached that path)`);
    return broken.length > 0 || uncovered.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`graft sim: ${error.message}\n\n${HELP}`);
      return 2;
    }
    throw error;
  }
}

/** `all`, `peers`, or strategy names joined by commas. */
function parseStrategies(text: string): readonly Strategy[] {
  if (text === 'all') return STRATEGIES;
  if (text === 'peers') return ['graft', ...PEER_STRATEGIES];
  const names = text.split(',');
  for (const name of names)
    if (!ALL_STRATEGIES.includes(name as Strategy))
      throw new UsageError(`unknown strategy '${name}' (try: ${ALL_STRATEGIES.join(', ')}, all, peers)`);
  if (new Set(names).size !== names.length) throw new UsageError(`a strategy is named twice in '${text}'`);
  return names as Strategy[];
}

/** The command that runs one conversation (`conv_N`) of this run again, alone. */
export function replayCommand(
  options: Pick<SimOptions, 'seed' | 'world' | 'faults' | 'onSettleDuringFirstCall' | 'workload'>,
  conversationId: string,
): string {
  const flags = [
    '--strategy graft',
    `--seed ${options.seed}`,
    `--first ${conversationId.replace(/^conv_/, '')}`,
    '--conversations 1',
  ];
  if (options.world === 'adversarial') flags.unshift('--world adversarial');
  if (options.faults) flags.push('--faults');
  if (options.onSettleDuringFirstCall === 'rebase') flags.push('--policy rebase');
  if (options.workload?.name) flags.push(`--workload ${options.workload.name}`);
  return `npx graft sim ${flags.join(' ')}`;
}

/** Progress on stderr: a live line on a terminal, a line per strategy otherwise. */
function progress() {
  const started = Date.now();
  return (strategy: Strategy, done: number, total: number) => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (process.stderr.isTTY)
      process.stderr.write(`\r\x1b[Ksim: ${strategy} ${done}/${total} conversations (${seconds} s)`);
    else if (done === total)
      process.stderr.write(`sim: ${strategy} done (${total} conversations, ${seconds} s)\n`);
  };
}
