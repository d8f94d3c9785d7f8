import { GraftError } from '../core/errors.js';

/** A small flag parser: `--name value`, `--name=value` and boolean `--flag`. Unknown flags are errors. */
export interface FlagSpec {
  [name: string]: { type: 'string' | 'boolean'; help: string; default?: string };
}

/** A bad command line: the CLI prints the message and the command's help, and exits 2. */
export class UsageError extends GraftError {
  override readonly name = 'UsageError';
  readonly kind = 'invalid-input';
  readonly code = 'usage';
}

export function parseFlags(
  argv: readonly string[],
  spec: FlagSpec,
): Record<string, string | boolean | undefined> {
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, flag] of Object.entries(spec))
    values[name] = flag.type === 'boolean' ? false : flag.default;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const flag = spec[name];
    if (!flag) throw new UsageError(`unknown flag --${name}`);
    if (flag.type === 'boolean') {
      values[name] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const value = inline ?? argv[(i += 1)];
    if (value === undefined || (inline === undefined && value.startsWith('--')))
      throw new UsageError(`--${name} needs a value`);
    values[name] = value;
  }
  return values;
}

export function flagHelp(spec: FlagSpec): string {
  return Object.entries(spec)
    .map(([name, flag]) => {
      const left = `  --${name}${flag.type === 'string' ? ' VALUE' : ''}`;
      const def = flag.default !== undefined ? ` (default: ${flag.default})` : '';
      return `${left.padEnd(26)} ${flag.help}${def}`;
    })
    .join('\n');
}

/** Parses a non-negative integer flag, or throws a usage error naming it. */
export function intFlag(
  name: string,
  value: string | boolean | undefined,
  { min = 0, max = Number.MAX_SAFE_INTEGER } = {},
): number {
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got '${String(value)}')`);
  }
  return n;
}
