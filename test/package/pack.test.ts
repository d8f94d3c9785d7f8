import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres, TEST_POSTGRES_URL } from '../postgres.js';

/**
 * The library as a user gets it: graft is built and packed (`npm pack`), the tarball is installed
 * into a scratch project with the database drivers, and examples/library/burst.ts is compiled there
 * under a strict tsconfig without skipLibCheck, then run on SQLite and on PostgreSQL.
 *
 * The install uses the npm cache that `npm ci` filled (`--prefer-offline`), and `--ignore-scripts`:
 * better-sqlite3's native addon is copied from this repository's build rather than compiled again.
 */
const root = join(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'graft-pack-'));
const pkg = join(work, 'graft');
const app = join(work, 'app');
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string }>;
};
const locked = (name: string) => lock.packages[`node_modules/${name}`]?.version ?? 'latest';

function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: 'pipe', timeout: 240_000 });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${command} ${args.join(' ')} failed in ${cwd}:\n${failed.stdout ?? ''}${failed.stderr ?? failed.message}`,
    );
  }
}
const npm = (args: string[], cwd: string) => run(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, cwd);
const tsc = (args: string[], cwd: string) =>
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), ...args], cwd);

let tarball = '';

beforeAll(() => {
  // A copy of the package, built from its sources (the repository's own dist/ may be stale).
  mkdirSync(pkg);
  for (const entry of [
    'package.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'README.md',
    'BENCHMARKS.md',
    'LICENSE',
    'bin',
    'src',
    'docs',
  ])
    cpSync(join(root, entry), join(pkg, entry), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  tsc(['-p', 'tsconfig.build.json'], pkg);
  const packed = npm(['pack', '--ignore-scripts', '--pack-destination', work, '--loglevel=error'], pkg)
    .trim()
    .split('\n');
  tarball = join(work, packed[packed.length - 1]!);

  mkdirSync(app);
  const dependencies = {
    graft: `file:${tarball}`,
    'better-sqlite3': locked('better-sqlite3'),
    postgres: locked('postgres'),
    typescript: locked('typescript'),
    '@types/node': locked('@types/node'),
  };
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'graft-consumer', private: true, type: 'module', dependencies }, null, 2),
  );
  npm(
    ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
    app,
  );
  const addon = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
  mkdirSync(dirname(join(app, addon)), { recursive: true });
  copyFileSync(join(root, addon), join(app, addon));
  for (const file of ['burst.ts', 'tsconfig.json'])
    copyFileSync(join(root, 'examples/library', file), join(app, file));
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Every module a file reaches through static imports (not `import()`), with the packages it names. */
function importGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(
      /^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm,
    )) {
      const specifier = (match[1] ?? match[2])!;
      if (specifier.startsWith('.'))
        visit(join(dirname(file), specifier.replace(/\.js$/, file.endsWith('.d.ts') ? '.d.ts' : '.js')));
      else
        packages.add(
          specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!,
        );
    }
  };
  visit(entry);
  return { files: [...files], packages };
}

describe('the packed library', () => {
  it('ships the entry points, the docs and the licence, and no tests or sources', () => {
    const listing = run('tar', ['tzf', tarball], work).split('\n');
    for (const file of [
      'index.js',
      'index.d.ts',
      'store/sqlite/index.js',
      'store/postgres/index.d.ts',
      'server/index.js',
      'emulator/index.js',
      'sim/index.js',
      'demo/index.js',
      'cli/main.js',
    ])
      expect(listing).toContain(`package/dist/${file}`);
    for (const file of [
      'LICENSE',
      'README.md',
      'docs/tools.md',
      'docs/service.md',
      'docs/architecture.md',
      'bin/graft.js',
      'bin/graft-emulator.js',
    ])
      expect(listing).toContain(`package/${file}`);
    expect(listing.filter((file) => file.startsWith('package/src/') || /\.test\.|\.map$/.test(file))).toEqual(
      [],
    );
  });

  it('keeps the library free of the demo, the emulator, the simulator, the service and the drivers', () => {
    const dist = join(app, 'node_modules/graft/dist');
    const library = importGraph(join(dist, 'index.js'));
    const units = library.files.map((file) => relative(dist, file).split('/')[0]);
    for (const unit of ['demo', 'emulator', 'sim', 'server', 'cli']) expect(units).not.toContain(unit);
    expect([...library.packages].filter((name) => !name.startsWith('node:')).sort()).toEqual([
      'openai',
      'zod',
    ]);
    // Types: neither the library's nor the service's declarations name a database driver, so a
    // project that installs neither driver still compiles against them.
    for (const entry of ['index.d.ts', 'server/index.d.ts']) {
      const types = importGraph(join(dist, entry));
      expect([...types.packages]).not.toContain('better-sqlite3');
      expect([...types.packages]).not.toContain('postgres');
    }
  });

  it('compiles a strict TypeScript program against it (strict, noUncheckedIndexedAccess, no skipLibCheck)', () => {
    tsc(['-p', 'tsconfig.json'], app);
    expect(existsSync(join(app, 'burst.js'))).toBe(true);
  });

  it('runs a burst on SQLite: one reply, one order, and the embedded service', () => {
    const output = run(process.execPath, ['burst.js', 'sqlite:./data/burst.db'], app);
    expect(output).toContain('library on sqlite: one reply covering m1 and m2, one order (1 cola, 2 pizza)');
    expect(output).toContain('service on sqlite: POST 202, one reply');
  });

  it.runIf(hasPostgres)('runs a burst on PostgreSQL', async () => {
    const schema = `graft_pack_${randomBytes(4).toString('hex')}`;
    const admin = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => undefined });
    try {
      const output = run(process.execPath, ['burst.js', TEST_POSTGRES_URL, schema], app);
      expect(output).toContain(
        'library on postgres: one reply covering m1 and m2, one order (1 cola, 2 pizza)',
      );
      expect(output).toContain('service on postgres: POST 202, one reply');
    } finally {
      await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end({ timeout: 1 });
    }
  });

  it('says which package to install when a store needs a driver that is missing', () => {
    const driver = join(app, 'node_modules/better-sqlite3');
    renameSync(driver, `${driver}.away`);
    try {
      const script =
        "import('graft').then((g) => g.openStore('sqlite::memory:')).then(() => console.log('opened'), (e) => console.log(e.message))";
      const output = run(process.execPath, ['--input-type=module', '-e', script], app);
      expect(output).toContain(
        'the SQLite store needs the better-sqlite3 package, which is not installed: run `npm install better-sqlite3@12`',
      );
    } finally {
      renameSync(`${driver}.away`, driver);
    }
  });
});
