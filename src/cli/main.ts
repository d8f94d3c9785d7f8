/**
 * The `graft` command line: `graft <command> [flags]`. Each command lives in its own module and is
 * loaded only when it runs, so `graft --help` stays fast.
 */
interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, Command> = {
  sim: {
    summary: 'run the deterministic simulator and compare strategies',
    run: async (argv) => (await import('./sim-command.js')).simCommand(argv),
  },
  emulator: {
    summary: 'serve a local OpenAI Responses API emulator (the shop clerk as its model)',
    run: async (argv) => (await import('../emulator/cli.js')).emulatorCommand(argv),
  },
  serve: {
    summary: "serve graft's HTTP API (messages in, replies by webhook and SSE)",
    run: async (argv) => (await import('./serve-command.js')).serveCommand(argv),
  },
  demo: {
    summary: 'run the demo: the service, the shop clerk (no API key needed) and the shop',
    run: async (argv) => (await import('./demo-command.js')).demoCommand(argv),
  },
  inspect: {
    summary: "print a conversation's turns, attempts, model calls, effects and grafts as a tree",
    run: async (argv) => (await import('./inspect-command.js')).inspectCommand(argv),
  },
  'dead-letters': {
    summary: 'list reply deliveries that were given up on, and deliver one again',
    run: async (argv) => (await import('./dead-letters-command.js')).deadLettersCommand(argv),
  },
  approvals: {
    summary: "list writes that wait for a person's approval, and approve or reject one",
    run: async (argv) => (await import('./approvals-command.js')).approvalsCommand(argv),
  },
  takeover: {
    summary: 'hand a conversation to a person: the bot answers nothing until it is released',
    run: async (argv) => (await import('./takeover-command.js')).takeoverCommand(argv),
  },
  'operator-message': {
    summary: "send a person's reply in a conversation they have taken over",
    run: async (argv) => (await import('./takeover-command.js')).operatorMessageCommand(argv),
  },
  release: {
    summary: 'hand a taken-over conversation back to the bot',
    run: async (argv) => (await import('./takeover-command.js')).releaseCommand(argv),
  },
  keys: {
    summary: 'create, list and revoke per-tenant API keys',
    run: async (argv) => (await import('./keys-command.js')).keysCommand(argv),
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(17)} ${command.summary}`);
  return [
    'Usage: graft <command> [flags]',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'graft <command> --help' for a command's flags.",
  ].join('\n');
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`graft: unknown command '${name}'.\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}
