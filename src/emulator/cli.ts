import { UsageError, flagHelp, intFlag, parseFlags, type FlagSpec } from '../util/args.js';
import { createEmulator } from './server.js';

const flags: FlagSpec = {
  port: { type: 'string', help: 'port to listen on (0 picks a free one)', default: '8790' },
  host: { type: 'string', help: 'address to listen on', default: '127.0.0.1' },
  latency: {
    type: 'string',
    help: 'zero | realistic (500 ms to first token, 20 ms a token)',
    default: 'zero',
  },
  'api-key': { type: 'string', help: 'require this key as `Authorization: Bearer KEY` (401 otherwise)' },
  seed: { type: 'string', help: 'seed of the generated ids', default: '1' },
  help: { type: 'boolean', help: 'show this help' },
};

const HELP = `Usage: graft emulator [flags]

Serves a local emulator of the OpenAI Responses API at http://HOST:PORT/v1 (and its WebSocket
mode at ws://HOST:PORT/v1/responses), with the shop clerk as its model, and a generic brain for
any other tools. Point the official SDK at it with baseURL: 'http://127.0.0.1:8790/v1'.
Stops on Ctrl-C (SIGINT) or SIGTERM.

${flagHelp(flags)}`;

/** Waits for SIGINT or SIGTERM, or for `signal` to abort. */
function untilStopped(signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
  });
}

/**
 * `graft emulator`: runs the emulator until stopped; returns the exit code. `options.signal`
 * stops it (for tests), and `options.log` receives what it prints.
 */
export async function emulatorCommand(
  argv: string[],
  options: { signal?: AbortSignal; log?: (line: string) => void } = {},
): Promise<number> {
  const log = options.log ?? ((line: string) => console.log(line));
  let values;
  try {
    values = parseFlags(argv, flags);
    if (values.help) {
      log(HELP);
      return 0;
    }
    if (values.latency !== 'zero' && values.latency !== 'realistic')
      throw new UsageError('--latency must be zero or realistic');
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`graft emulator: ${error.message}\n\n${HELP}`);
    return 2;
  }
  let port: number;
  let seed: number;
  try {
    port = intFlag('port', values.port, { max: 65_535 });
    seed = intFlag('seed', values.seed, { max: 2 ** 32 - 1 });
  } catch (error) {
    console.error(`graft emulator: ${(error as Error).message}`);
    return 2;
  }
  const apiKey = typeof values['api-key'] === 'string' ? values['api-key'] : undefined;
  const emulator = createEmulator({ latency: values.latency, seed, ...(apiKey ? { apiKey } : {}) });
  const listening = await emulator.listen(port, values.host as string);
  log(
    `Responses API emulator listening on ${listening.url} (latency: ${values.latency}${apiKey ? ', API key required' : ''})`,
  );
  await untilStopped(options.signal);
  await listening.close();
  return 0;
}
