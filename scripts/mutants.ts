/**
 * `npm run mutants`: mutation testing for graft's safety rules (STYLE.md, "Mutation testing keeps
 * the tests honest"). Each mutant below plants one named safety bug, as an exact text edit, in a
 * temporary copy of the repository; the copy is built (which type-checks the mutant), then the fast
 * tests and the simulator run against it. A mutant is killed when a test that passes on the
 * unmutated code fails, or the simulator fails, or either runs past the time bound (a hang). The
 * table goes to BENCHMARKS.md, between `<!-- mutants:begin -->` and `<!-- mutants:end -->`.
 *
 *   npm run mutants                          every mutant, 2 at a time
 *   npm run mutants -- --only a,b            a subset (not recorded in BENCHMARKS.md)
 *   npm run mutants -- --list                the mutants and the rules they break
 *   --parallel N, --timeout SECONDS (per build, test or simulator run), --ref COMMIT (copy that
 *   commit's tree), --sim auto|adversarial|polite, --keep (keep the copies)
 *
 * The simulator is the adversarial world when `graft sim` has it and graft passes it unmutated;
 * otherwise the polite world with faults, and the output says so. The working tree is never
 * touched: the copy holds its tracked and untracked (not ignored) files as they are now, with
 * node_modules linked. An edit whose snippet does not occur exactly once, or a mutant that does not
 * compile, is an error of this script (exit 2): the catalogue must not rot silently.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** One exact text edit: `from` must occur exactly once in `file`. */
interface Edit {
  file: string;
  from: string;
  to: string;
}

interface Mutant {
  name: string;
  /** The rule the mutant breaks, as DESIGN.md states it. */
  rule: string;
  edits: Edit[];
}

const PLAN = 'src/core/plan.ts';
const CONTEXT = 'src/core/context.ts';
const STATE = 'src/core/state.ts';
const ACTOR = 'src/runtime/actor.ts';
const RUNNER = 'src/runtime/tool-runner.ts';
const SHOP = 'src/demo/shop/shop.ts';

const edit = (file: string, from: string, to: string): Edit => ({ file, from, to });

/** The planted bugs. Each is a plausible slip, not a syntax error: it must typecheck. */
export const MUTANTS: Mutant[] = [
  // The write gate, step by step (DESIGN.md, "At a write gate").
  {
    name: 'gate-skips-wait-for-write-in-flight',
    rule: 'a write that may still be in flight closes every write gate (step 2)',
    edits: [edit(PLAN, "  if (inFlight) return { kind: 'wait' };\n", '')],
  },
  {
    name: 'gate-timed-out-write-stops-blocking',
    rule: 'a write past its time bound is still in flight: it keeps the write gates closed',
    edits: [
      edit(
        PLAN,
        "return effect.status === 'running' || (effect.status === 'unknown' && !effect.checked);",
        "return effect.status === 'running';",
      ),
    ],
  },
  {
    name: 'gate-skips-blocked-refusal',
    rule: 'a write whose outcome no fenced answer settled blocks every write (step 2)',
    edits: [
      edit(
        PLAN,
        "  return blocked ? refuseAll(writes, 'blocked', notices.blocked(blocked.tool)) : null;",
        '  return null;',
      ),
    ],
  },
  {
    name: 'gate-no-rebase-for-missing-effects',
    rule: 'settled effects missing from the context: rebase, do not run (step 3)',
    edits: [
      edit(
        PLAN,
        "return missingEffects(state, known).length > 0 || unseen ? refuseAll(writes, 'rebase', notices.notExecuted) : null;",
        "return unseen ? refuseAll(writes, 'rebase', notices.notExecuted) : null;",
      ),
    ],
  },
  {
    name: 'gate-no-rebase-for-steered-messages',
    rule: 'a write decided before a steered message does not run: rebase (step 3)',
    edits: [
      edit(
        PLAN,
        "return missingEffects(state, known).length > 0 || unseen ? refuseAll(writes, 'rebase', notices.notExecuted) : null;",
        "return missingEffects(state, known).length > 0 ? refuseAll(writes, 'rebase', notices.notExecuted) : null;",
      ),
    ],
  },
  {
    name: 'gate-reruns-failed-key-same-generation',
    rule: 'a key whose runs all failed runs again only under a new key generation (step 5)',
    edits: [
      edit(
        PLAN,
        'const generation = (previous?.generation ?? 0) + 1;',
        'const generation = previous?.generation ?? 1;',
      ),
    ],
  },
  {
    name: 'gate-drops-duplicate-call-check',
    rule: 'a key repeated within one response runs once (step 5)',
    edits: [edit(PLAN, '    keys.add(key);\n', '')],
  },
  // The frontier.
  {
    name: 'frontier-is-always-the-head',
    rule: 'a new attempt forks from the completed response holding the most settled effects',
    edits: [edit(PLAN, '  return best.callId;\n}', '  return state.head;\n}')],
  },
  {
    name: 'frontier-ignores-settled-score',
    rule: 'the frontier holds the most settled effects; ties go to the latest',
    edits: [
      edit(
        PLAN,
        'if (score > best.score || (score === best.score && seq > best.seq)) best = { callId, score, seq };',
        'if (seq > best.seq) best = { callId, score, seq };',
      ),
    ],
  },
  // Grafts.
  {
    name: 'grafts-compare-presence-not-status',
    rule: 'a context that holds an effect at an older status is missing it (guarantee 4)',
    edits: [
      edit(
        CONTEXT,
        'if (known.effects.get(effectId) !== effect.status) missing.push(effect);',
        'if (!known.effects.has(effectId)) missing.push(effect);',
      ),
    ],
  },
  {
    name: 'grafts-never-graft-failed-effects',
    rule: 'failure is not absence: a failed effect is grafted like any other (guarantee 4)',
    edits: [
      edit(
        CONTEXT,
        'if (known.effects.get(effectId) !== effect.status) missing.push(effect);',
        "if (effect.status !== 'failed' && known.effects.get(effectId) !== effect.status) missing.push(effect);",
      ),
    ],
  },
  // Statuses.
  {
    name: 'thrown-write-recorded-failed',
    rule: 'a write that throws (not a ToolRejection) has an unknown outcome (guarantee 5)',
    edits: [
      edit(
        RUNNER,
        "return { outcome: 'unknown', output, message };",
        "return { outcome: 'rejected', output };",
      ),
    ],
  },
  {
    name: 'result-serialised-inside-try',
    rule: 'a result that cannot be serialised is recorded as done, with a placeholder (guarantee 5)',
    edits: [
      edit(
        RUNNER,
        `      let value: unknown;
      try {
        value = await tool.run(parsed.args, ctx);
      } catch (error) {
        return failure(tool, error);
      }
      // Serialised outside the tool's \`try\`: a result that cannot be written down still happened.
      return { outcome: 'done', ...serialise(value) };`,
        `      try {
        const value: unknown = await tool.run(parsed.args, ctx);
        return { outcome: 'done', output: JSON.stringify(value ?? null) ?? 'null' };
      } catch (error) {
        return failure(tool, error);
      }`,
      ),
    ],
  },
  {
    name: 'thrown-write-retried-same-key',
    rule: 'a key whose outcome is unknown is never re-run blindly (guarantee 5)',
    edits: [
      edit(
        RUNNER,
        `      } catch (error) {
        return failure(tool, error);
      }`,
        `      } catch (error) {
        if (error instanceof ToolRejection || tool.effect === 'read') return failure(tool, error);
        try {
          value = await tool.run(parsed.args, ctx);
        } catch (again) {
          return failure(tool, again);
        }
      }`,
      ),
    ],
  },
  {
    name: 'unknown-key-runs-again',
    rule: 'a key whose outcome is unknown runs again only after a fenced did-not-happen (guarantee 5)',
    edits: [
      edit(
        PLAN,
        "if (effect.status !== 'running' || effect.owner !== config.instanceId) continue;",
        "if (effect.status === 'done' || effect.status === 'failed' || effect.owner !== config.instanceId) continue;",
      ),
    ],
  },
  // Keys.
  {
    name: 'generation-key-ignores-generation',
    rule: 'a re-run after a fenced did-not-happen uses a new key generation',
    edits: [
      edit(
        STATE,
        'return generation <= 1 ? baseKey : (`${baseKey}#${generation}` as IdempotencyKey);',
        'return baseKey;',
      ),
    ],
  },
  // Leases.
  {
    name: 'lease-claimed-before-expiry',
    rule: 'another instance takes over only an expired lease (guarantee 7)',
    edits: [
      edit(
        PLAN,
        'if (live && live.owner !== me && now >= live.leaseUntil) {',
        'if (live && live.owner !== me) {',
      ),
    ],
  },
  {
    name: 'lease-of-running-write-not-renewed',
    rule: 'the owner renews the lease of its running writes in time (guarantee 7)',
    edits: [
      edit(
        PLAN,
        '.filter((e) => leased(e) && e.owner === me && now >= renewAt(e.leaseUntil))',
        ".filter((e) => e.status === 'unknown' && !e.checked && e.owner === me && now >= renewAt(e.leaseUntil))",
      ),
      // The matching wake-up goes too (else the owner wakes for a renewal it never makes, in a loop).
      edit(
        PLAN,
        'if (leased(effect)) times.push(leaseCheck(effect.owner, effect.leaseUntil));',
        "if (leased(effect) && !(effect.status === 'running' && effect.owner === config.instanceId)) times.push(leaseCheck(effect.owner, effect.leaseUntil));",
      ),
    ],
  },
  {
    name: 'claim-reappended-after-conflict',
    rule: 'a conflict voids a decision: reload and decide again, never re-append it (guarantee 7)',
    edits: [
      edit(
        ACTOR,
        `        if (!(error instanceof ConflictError)) throw error;
      }
    }
    throw new InvariantViolation(\`conversation \${this.conversationId}: decisions did not settle\`);`,
        `        if (!(error instanceof ConflictError)) throw error;
        // A claim does not depend on what got in first: append it again.
        if (next.events.every((e) => e.type === 'lease.claimed')) await this.foldAndAppend(next.events);
      }
    }
    throw new InvariantViolation(\`conversation \${this.conversationId}: decisions did not settle\`);`,
      ),
    ],
  },
  // Supersede.
  {
    name: 'newer-message-does-not-supersede',
    rule: 'every inbound message supersedes the live attempt at once (guarantee 1)',
    edits: [
      edit(
        PLAN,
        'const newer = waiting.filter((m) => m.seq > live.startedSeq);',
        'const newer: MessageState[] = [];',
      ),
    ],
  },
  {
    name: 'live-attempt-writes-after-newer-message',
    rule: 'a write runs only for the live attempt: a newer message in the log supersedes it first (guarantee 3)',
    edits: [
      edit(
        PLAN,
        'const newer = waiting.filter((m) => m.seq > live.startedSeq);',
        "const newer = waiting.filter((m) => m.seq > live.startedSeq && getCall(state, live.calls.at(-1)!).toolCalls.every((t) => t.outcome !== null || t.kind !== 'write'));",
      ),
    ],
  },
  // The reply gate and steering.
  {
    name: 'reply-commits-without-rebase',
    rule: 'a reply whose context lacks an effect is not committed: rebase (guarantee 4)',
    edits: [edit(PLAN, 'const stale = missingEffects(state, known).length > 0;', 'const stale = false;')],
  },
  {
    name: 'reply-commits-missing-steered-message',
    rule: 'a reply covers every message that steered into its attempt (guarantee 2)',
    edits: [
      edit(
        PLAN,
        'const unseen = owedMessages(state, bound).some((m) => !known.messages.has(m.messageId));',
        'const unseen = false;',
      ),
    ],
  },
  {
    name: 'steering-bound-is-attempt-start',
    rule: 'past the attempts bound, later messages steer into the live attempt (one reply per burst)',
    edits: [
      edit(PLAN, 'return steering ? state.seq + 1 : attempt.startedSeq;', 'return attempt.startedSeq;'),
    ],
  },
  // Late settles and reconcile.
  {
    name: 'late-settle-dropped',
    rule: 'a settle after its effect settled differently is recorded and flagged, never dropped',
    edits: [
      edit(
        ACTOR,
        "return source === 'run' && effect.status !== body.outcome ? { ...body, late: true } : null;",
        'return null;',
      ),
    ],
  },
  {
    name: 'reconcile-did-not-happen-not-recorded',
    rule: "reconcile's fenced did-not-happen settles the effect as failed, so the key may run again (new generation)",
    edits: [
      edit(
        ACTOR,
        "else fact = { type: 'effect.settled', effectId: command.effectId, outcome: 'failed', output: notices.notHappened, fenced: true };",
        "else fact = { type: 'effect.checked', effectId: command.effectId, note: `${command.tool} did not happen` };",
      ),
    ],
  },
  {
    name: 'reconcile-does-not-fence',
    rule: "reconcile is a fence: a did-not-happen key is tombstoned, so a late run fails (the demo shop's tools)",
    edits: [edit(SHOP, "    this.#keys.set(key, { kind: 'fenced' });\n    return null;", '    return null;')],
  },
];

/** The fast tests that guard the rules (not test/crash nor test/server: too slow). */
const TEST_FILTERS = [
  'src/core',
  'test/effect-guarantees',
  'test/scenarios',
  'test/properties',
  'test/sim',
  'test/runtime-basics',
  'test/mutant-killers',
];
const SIM_RUN = ['sim', '--strategy', 'graft', '--conversations', '300', '--seed', '1'];
const REPO = fileURLToPath(new URL('..', import.meta.url));
const TEST_REPORT = '.mutants-tests.json';

type Outcome = 'passed' | 'failed' | 'timeout';

interface Run {
  outcome: Outcome;
  seconds: number;
  output: string;
}

/** A test run, with each test's status by its full name (null when vitest wrote no report). */
interface TestRun extends Run {
  statuses: Map<string, string> | null;
}

interface Result {
  mutant: Mutant;
  tests: Outcome | null;
  sim: Outcome | null;
  /** Why the mutant could not be judged (it does not compile): an error of this script. */
  error: string | null;
  seconds: number;
  /** The tests that passed on the unmutated code and not on the mutant. */
  failedTests: string[];
}

/** The process groups this script started and that still run. */
const live = new Set<number>();

/** Runs a command in its own process group, killed whole past `timeoutMs`. */
function run(
  command: string,
  args: string[],
  cwd: string,
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', ...env },
    });
    live.add(child.pid!);
    const chunks: string[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => chunks.push(d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid!);
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      live.delete(child.pid!);
      const outcome: Outcome = timedOut ? 'timeout' : code === 0 ? 'passed' : 'failed';
      resolve({ outcome, seconds: (performance.now() - started) / 1000, output: chunks.join('') });
    });
  });
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** The files of the copy: the working tree's tracked and untracked (not ignored) files. */
function sourceFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO,
    encoding: 'utf8',
  });
  return listed
    .split('\0')
    .filter((f) => f !== '' && !/^(node_modules|dist)(\/|$)/.test(f) && existsSync(join(REPO, f)));
}

async function makeCopy(dir: string, ref: string | null): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (ref !== null) {
    const tar = execFileSync('git', ['archive', '--format=tar', ref], { cwd: REPO, maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
  } else {
    for (const file of sourceFiles()) await cp(join(REPO, file), join(dir, file), { recursive: true });
  }
  await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

/** Applies a mutant's edits to `text` of `file`; throws when a snippet does not occur exactly once. */
function applyEdits(mutant: Mutant, file: string, text: string): string {
  let mutated = text;
  for (const e of mutant.edits.filter((x) => x.file === file)) {
    const count = text.split(e.from).length - 1;
    if (count !== 1)
      throw new Error(
        `mutant ${mutant.name}: its snippet occurs ${count} times in ${file}, not once:\n${e.from}`,
      );
    mutated = mutated.replace(e.from, () => e.to);
  }
  return mutated;
}

/** Every edit of every mutant must find its snippet exactly once in the source. */
function checkCatalogue(mutants: readonly Mutant[], root: string): string[] {
  const problems: string[] = [];
  for (const mutant of mutants) {
    for (const file of new Set(mutant.edits.map((e) => e.file))) {
      try {
        const path = join(root, file);
        if (!existsSync(path)) throw new Error(`mutant ${mutant.name}: ${file} does not exist`);
        applyEdits(mutant, file, readFileSync(path, 'utf8'));
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }
  }
  return problems;
}

/** Each test's status by its file and full name, from vitest's JSON report. */
function testStatuses(path: string): Map<string, string> | null {
  if (!existsSync(path)) return null;
  try {
    const report = JSON.parse(readFileSync(path, 'utf8')) as {
      testResults: { name: string; assertionResults: { fullName: string; status: string }[] }[];
    };
    const statuses = new Map<string, string>();
    for (const file of report.testResults) {
      const name = file.name.replace(/^.*?\/(src|test|examples)\//, '$1/');
      for (const t of file.assertionResults) statuses.set(`${name} > ${t.fullName}`, t.status);
    }
    return statuses;
  } catch {
    return null;
  }
}

/** One copy of the repository that mutants take turns in (each restores what it changed). */
class Workspace {
  sim: string[] = [];

  constructor(
    readonly dir: string,
    private readonly timeoutMs: number,
  ) {}

  /** Builds dist/ (the CLI runs it), type-checking src and examples on the way. */
  build(): Promise<Run> {
    const tsc = join(this.dir, 'node_modules', 'typescript', 'bin', 'tsc');
    return run(
      process.execPath,
      [tsc, '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', '.mutants.tsbuildinfo'],
      this.dir,
      this.timeoutMs,
    );
  }

  async tests(): Promise<TestRun> {
    const vitest = join(this.dir, 'node_modules', 'vitest', 'vitest.mjs');
    const report = join(this.dir, TEST_REPORT);
    await rm(report, { force: true });
    const filters = TEST_FILTERS.filter(
      (f) => f !== 'test/mutant-killers' || existsSync(join(this.dir, 'test', 'mutant-killers.test.ts')),
    );
    const result = await run(
      process.execPath,
      [vitest, 'run', '--reporter=json', `--outputFile=${TEST_REPORT}`, ...filters],
      this.dir,
      this.timeoutMs,
    );
    return { ...result, statuses: result.outcome === 'timeout' ? null : testStatuses(report) };
  }

  simulate(): Promise<Run> {
    return run(process.execPath, ['bin/graft.js', ...this.sim], this.dir, this.timeoutMs);
  }

  /** Plants the mutant, builds, runs the tests (compared with `baseline`) and the simulator, and restores the copy. */
  async judge(mutant: Mutant, baseline: ReadonlyMap<string, string>): Promise<Result> {
    const started = performance.now();
    const originals = new Map<string, string>();
    for (const file of new Set(mutant.edits.map((e) => e.file))) {
      const path = join(this.dir, file);
      const text = await readFile(path, 'utf8');
      originals.set(path, text);
      await writeFile(path, applyEdits(mutant, file, text));
    }
    const result: Result = { mutant, tests: null, sim: null, error: null, seconds: 0, failedTests: [] };
    try {
      const build = await this.build();
      if (build.outcome !== 'passed') {
        result.error = `does not compile: ${firstLines(build.output, 5)}`;
      } else {
        const tests = await this.tests();
        result.failedTests =
          tests.statuses === null
            ? []
            : [...baseline]
                .filter(([name, status]) => status === 'passed' && tests.statuses!.get(name) !== 'passed')
                .map(([name]) => name);
        // Tests that already fail on the unmutated code do not count; a run without a report (a crash) does.
        result.tests =
          tests.outcome === 'timeout'
            ? 'timeout'
            : tests.statuses === null && tests.outcome === 'failed'
              ? 'failed'
              : result.failedTests.length > 0
                ? 'failed'
                : 'passed';
        result.sim = (await this.simulate()).outcome;
      }
    } finally {
      for (const [path, text] of originals) await writeFile(path, text);
    }
    result.seconds = (performance.now() - started) / 1000;
    return result;
  }
}

function firstLines(text: string, n: number): string {
  return text.trim().split('\n').slice(0, n).join(' | ');
}

function killedBy(r: Result): string {
  if (r.error !== null) return `error: ${r.error}`;
  const by = [
    r.tests !== 'passed' ? `tests${r.tests === 'timeout' ? ' (timeout)' : ''}` : null,
    r.sim !== 'passed' ? `sim${r.sim === 'timeout' ? ' (timeout)' : ''}` : null,
  ].filter(Boolean);
  if (by.length === 2 && r.tests === 'failed' && r.sim === 'failed') return 'both';
  return by.length === 0 ? 'SURVIVED' : by.join(' + ');
}

const killed = (r: Result) => r.error === null && (r.tests !== 'passed' || r.sim !== 'passed');

/** A test's name without its file, for the progress line. */
const shortName = (name: string) => name.slice(name.lastIndexOf(' > ') + 3);

function table(results: readonly Result[]): string {
  const rows = results.map(
    (r) => `| \`${r.mutant.name}\` | ${r.mutant.rule} | ${killedBy(r)} | ${r.seconds.toFixed(0)} |`,
  );
  return ['| mutant | rule it breaks | killed by | seconds |', '| --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}

/** Writes the section between the mutants markers of BENCHMARKS.md (appended when they are missing). */
function recordMutants(section: string): void {
  const file = join(REPO, 'BENCHMARKS.md');
  const begin = '<!-- mutants:begin -->';
  const end = '<!-- mutants:end -->';
  const block = `${begin}\n${section}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const pattern = new RegExp(`${begin}[\\s\\S]*?${end}`);
  writeFileSync(
    file,
    pattern.test(current) ? current.replace(pattern, () => block) : `${current.trimEnd()}\n\n${block}\n`,
  );
}

/** Runs `work` over `items`, each worker taking the next item when it is free. */
async function pool<T>(
  items: readonly T[],
  workers: readonly Workspace[],
  work: (w: Workspace, item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    workers.map(async (w) => {
      while (next < items.length) await work(w, items[next++]!);
    }),
  );
}

/**
 * The simulator run that judges mutants: the adversarial world when `graft sim` has it and graft
 * passes it unmutated, else the polite world with faults (said aloud). Null when neither passes.
 */
async function chooseSim(
  w: Workspace,
  wanted: string,
  timeoutMs: number,
): Promise<{ args: string[]; seconds: number; note: string | null } | null> {
  const help = (await run(process.execPath, ['bin/graft.js', 'sim', '--help'], w.dir, timeoutMs)).output;
  // One thread: the mutants already use the cores.
  const threads = help.includes('--threads') ? ['--threads', '1'] : [];
  const adversarial = [...SIM_RUN, '--world', 'adversarial', ...threads];
  const polite = [...SIM_RUN, '--faults', ...threads];
  let note: string | null = null;
  if (wanted !== 'polite') {
    if (!help.includes('--world'))
      note = '`graft sim` has no --world flag yet: the polite simulator (with faults) judges instead';
    else {
      w.sim = adversarial;
      const base = await w.simulate();
      if (base.outcome === 'passed') return { args: adversarial, seconds: base.seconds, note: null };
      const why =
        base.output
          .trim()
          .split('\n')
          .filter((l) => !/^\s+at /.test(l))
          .slice(-1)[0] ?? base.outcome;
      note = `the adversarial simulator fails on the unmutated code (${why}): the polite simulator (with faults) judges instead`;
      if (wanted === 'adversarial') {
        console.error(`mutants: ${note}`);
        return null;
      }
    }
  }
  w.sim = polite;
  const base = await w.simulate();
  if (base.outcome !== 'passed') {
    console.error(`mutants: the polite simulator fails on the unmutated code:\n${base.output.slice(-3000)}`);
    return null;
  }
  return { args: polite, seconds: base.seconds, note };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      list: { type: 'boolean' },
      parallel: { type: 'string', default: '2' },
      timeout: { type: 'string', default: '150' },
      ref: { type: 'string' },
      keep: { type: 'boolean' },
      sim: { type: 'string', default: 'auto' },
    },
  });
  const problems = checkCatalogue(MUTANTS, REPO);
  if (values.list) {
    for (const m of MUTANTS) console.log(`${m.name.padEnd(42)} ${m.rule}`);
    for (const p of problems) console.error(`mutants: ${p}`);
    return problems.length > 0 ? 2 : 0;
  }
  const only =
    values.only
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean) ?? null;
  const unknown = only?.filter((name) => !MUTANTS.some((m) => m.name === name)) ?? [];
  if (unknown.length > 0) {
    console.error(`mutants: no mutant named ${unknown.join(', ')} (see --list)`);
    return 2;
  }
  if (!['auto', 'adversarial', 'polite'].includes(values.sim)) {
    console.error('mutants: --sim must be auto, adversarial or polite');
    return 2;
  }
  const selected = only ? MUTANTS.filter((m) => only.includes(m.name)) : MUTANTS;
  const timeoutMs = Number(values.timeout) * 1000;
  const parallel = Math.max(1, Math.min(Number(values.parallel), selected.length));
  const ref = values.ref ?? null;

  const started = performance.now();
  const root = await mkdtemp(join(tmpdir(), 'graft-mutants-'));
  const stopAll = () => {
    for (const pid of live) killGroup(pid);
  };
  process.once('SIGINT', () => {
    stopAll();
    void rm(root, { recursive: true, force: true }).finally(() => process.exit(130));
  });
  try {
    const workers = Array.from(
      { length: parallel },
      (_, i) => new Workspace(join(root, `w${i + 1}`), timeoutMs),
    );
    await Promise.all(workers.map((w) => makeCopy(w.dir, ref)));
    const rotten = ref === null ? problems : checkCatalogue(selected, workers[0]!.dir);
    if (rotten.length > 0) {
      for (const p of rotten) console.error(`mutants: ${p}`);
      return 2;
    }
    // The unmutated copy must build; the tests that pass on it, and the simulator, are the oracle.
    const builds = await Promise.all(workers.map((w) => w.build()));
    const broken = builds.find((b) => b.outcome !== 'passed');
    if (broken) {
      console.error(`mutants: the unmutated copy does not build:\n${broken.output}`);
      return 2;
    }
    const [baseTests, sim] = await Promise.all([
      workers[0]!.tests(),
      chooseSim(workers.at(-1)!, values.sim, timeoutMs),
    ]);
    if (sim === null) return 2;
    for (const w of workers) w.sim = sim.args;
    if (sim.note) console.log(`mutants: ${sim.note}`);
    const baseline = baseTests.statuses;
    if (baseline === null || ![...baseline.values()].includes('passed')) {
      console.error(
        `mutants: the tests do not run on the unmutated code (${baseTests.outcome}):\n${baseTests.output.slice(-3000)}`,
      );
      return 2;
    }
    const knownFailures = [...baseline].filter(([, status]) => status !== 'passed').map(([name]) => name);
    for (const name of knownFailures)
      console.log(`mutants: fails on the unmutated code, so it does not count: ${name}`);
    console.log(
      `mutants: baseline: ${baseline.size - knownFailures.length} tests pass (${baseTests.seconds.toFixed(0)} s), the simulator passes (${sim.seconds.toFixed(0)} s); ${selected.length} mutants, ${parallel} at a time`,
    );

    const results: Result[] = [];
    await pool(selected, workers, async (w, mutant) => {
      const result = await w.judge(mutant, baseline);
      results.push(result);
      const names = result.failedTests.map(shortName);
      const caught =
        names.length > 0
          ? ` (${names.slice(0, 2).join('; ')}${names.length > 2 ? `; +${names.length - 2} more` : ''})`
          : '';
      console.log(
        `[${String(results.length).padStart(2)}/${selected.length}] ${mutant.name}: ${killedBy(result)} in ${result.seconds.toFixed(0)} s${caught}`,
      );
    });
    results.sort((a, b) => selected.indexOf(a.mutant) - selected.indexOf(b.mutant));

    const total = (performance.now() - started) / 1000;
    const summary = `${results.filter(killed).length} of ${results.length} mutants killed`;
    const command = [
      'npm run mutants',
      only || ref ? ' --' : '',
      only ? ` --only ${only.join(',')}` : '',
      ref ? ` --ref ${ref}` : '',
    ].join('');
    const section = [
      `## Mutants (\`${command}\`)`,
      '',
      'Each mutant plants one safety bug (an exact edit, `scripts/mutants.ts`) in a copy of the repository. It is killed',
      `when a test that passes on the unmutated code fails (\`vitest run ${TEST_FILTERS.join(' ')}\`)`,
      `or the simulator fails (\`node bin/graft.js ${sim.args.join(' ')}\`${sim.note ? `: ${sim.note}` : ''}).`,
      `${parallel} at a time, ${Math.round(total)} s in all${knownFailures.length > 0 ? `; ${knownFailures.length} test(s) failed on the unmutated code and did not count` : ''}.`,
      '',
      table(results),
      '',
      summary,
    ].join('\n');
    console.log(`\n${table(results)}\n\ntotal ${Math.round(total)} s\n${summary}`);
    if (only === null) recordMutants(section);
    else console.log('(not recorded in BENCHMARKS.md: only a run of every mutant is)');
    return results.every(killed) ? 0 : 1;
  } finally {
    stopAll();
    if (values.keep) console.log(`mutants: copies kept in ${root}`);
    else await rm(root, { recursive: true, force: true });
  }
}

process.exitCode = await main();
