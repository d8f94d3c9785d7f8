// @ts-check
import tseslint from 'typescript-eslint';
/**
 * The units of graft and the arrows between them (docs/architecture.md). A unit may import from
 * itself and from the units listed for it, and from no other folder of src/; only the units listed
 * in PACKAGES may import a database driver, the model SDK or the web framework; nothing imports
 * from examples/. `npx eslint .` enforces it; test/lint-boundaries.test.ts checks that bad imports
 * are reported.
 */
export const UNITS = {
  core: [],
  util: ['core'],
  tools: ['core'],
  runtime: ['core', 'tools'],
  store: ['core', 'tools'],
  model: ['core'],
  server: ['core', 'runtime', 'tools', 'store', 'model', 'channels'],
  // Chat SDK in front of graft (the `graft/channels` entry; the server mounts it).
  channels: ['core', 'runtime'],
  demo: ['core', 'tools'],
  emulator: ['core', 'model', 'demo', 'util'],
  sim: ['core', 'runtime', 'tools', 'store', 'model', 'demo'],
  cli: [
    'core',
    'runtime',
    'tools',
    'store',
    'model',
    'server',
    'demo',
    'emulator',
    'sim',
    'util',
    'channels',
  ],
  // Browser code, bundled by scripts/build-dashboard.ts: a client of the HTTP API (see dashboardRules).
  dashboard: [],
};

/** The library's entry point, src/index.ts, sees these units. */
const LIBRARY = ['core', 'runtime', 'tools', 'store', 'model'];

/** Which units may import which driver or framework (any other package is free). */
const PACKAGES = {
  'better-sqlite3': ['store', 'server', 'demo'],
  // The library logs through its own small `Logger` port (src/runtime/logger.ts); only the shells make pino.
  pino: ['server', 'cli'],
  postgres: ['store', 'server', 'demo'],
  openai: ['model'],
  hono: ['server', 'cli'],
  '@hono/node-server': ['server'],
  // Optional peer dependencies: only src/channels imports them (the others load it when asked).
  chat: ['channels'],
  '@chat-adapter/state-memory': ['channels'],
  '@chat-adapter/telegram': ['channels'],
  '@chat-adapter/whatsapp': ['channels'],
  '@chat-adapter/slack': ['channels'],
  '@chat-adapter/teams': ['channels'],
};

const EXAMPLES = {
  regex: '(^|/)examples/',
  message: 'Nothing imports from examples/: they are apps that use graft, not parts of it.',
};

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * @param {string} name the unit
 * @param {readonly string[]} allowed the units it may import besides itself
 */
function rulesFor(name, allowed) {
  const forbidden = Object.keys(UNITS).filter((unit) => unit !== name && !allowed.includes(unit));
  const patterns = [EXAMPLES];
  if (name === 'core') {
    patterns.push({
      regex: '^(?!\\./)',
      message: 'src/core imports nothing outside itself (no other folder, no package, no node: module).',
    });
  } else if (name === 'util') {
    // The CLI helpers' errors are graft's errors (src/core/errors.ts); nothing else.
    patterns.push({
      regex: '^(?!\\./|\\.\\./core/)',
      message: 'src/util imports only src/core (no other folder, no package, no node: module).',
    });
  } else if (forbidden.length > 0) {
    patterns.push({
      regex: `^${name === 'index' ? '\\./' : '(\\.\\./)+'}(${forbidden.join('|')})/`,
      message: `src/${name} may import only ${[name, ...allowed].map((unit) => `src/${unit}`).join(', ')} (docs/architecture.md).`,
    });
  }
  const packages = Object.entries(PACKAGES)
    .filter(([, users]) => !users.includes(name))
    .map(([pkg]) => pkg);
  if (packages.length > 0 && name !== 'core' && name !== 'util') {
    patterns.push({
      regex: `^(${packages.map(escape).join('|')})(/|$)`,
      message: `src/${name} does not import ${packages.join(', ')}: drivers, the model SDK and the web framework stay in their adapters.`,
    });
  }
  return { 'no-restricted-imports': ['error', { patterns }] };
}

/**
 * The dashboard (src/dashboard/) runs in a browser and talks to graft only over HTTP: it may take
 * the types of the API's answers (src/server/view.ts) and of the log's events (src/core/events.ts)
 * with `import type`, and import Preact; nothing else of graft, no other package, no node: module.
 */
function dashboardRules() {
  const others = Object.keys(UNITS).filter((unit) => !['dashboard', 'core', 'server'].includes(unit));
  const message =
    'src/dashboard is a client of the HTTP API: of graft it takes only the types of src/server/view.ts and src/core/events.ts (`import type`).';
  return {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: [
          EXAMPLES,
          { regex: '^(\\.\\./)+(server/view|core/events)\\.js$', allowTypeImports: true, message },
          {
            regex: `^(\\.\\./)+(core/(?!events\\.js$)|server/(?!view\\.js$)|(${others.join('|')})/|index\\.js$)`,
            message,
          },
          {
            regex: '^(?!\\.|preact(/|$))',
            message:
              'src/dashboard runs in a browser: it imports Preact and its own files only (no node: module, no other package).',
          },
        ],
      },
    ],
  };
}

/** The boundary rules, as ESLint flat-config entries. */
export const boundaries = [
  ...Object.entries(UNITS)
    .filter(([unit]) => unit !== 'dashboard')
    .map(([unit, allowed]) => ({
      files: [`src/${unit}/**/*.ts`],
      ignores: ['src/**/*.test.ts'],
      rules: rulesFor(unit, allowed),
    })),
  {
    files: ['src/dashboard/**/*.ts', 'src/dashboard/**/*.tsx'],
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: dashboardRules(),
  },
  { files: ['src/index.ts'], rules: rulesFor('index', LIBRARY) },
  {
    files: ['**/*.ts', '**/*.js'],
    ignores: ['src/**/*.ts', 'src/**/*.tsx'],
    rules: { 'no-restricted-imports': ['error', { patterns: [EXAMPLES] }] },
  },
  {
    files: ['src/**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [EXAMPLES] }] },
  },
];
