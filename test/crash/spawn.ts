import { spawn } from 'node:child_process';

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
}

/** Runs the test child (TypeScript through tsx) with the given env; `killAfterMs` SIGKILLs it. */
export function runChild(env: Record<string, string>, killAfterMs?: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/crash/child.ts'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      lines.push(...parts);
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = killAfterMs === undefined ? null : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (buffer) lines.push(buffer);
      if (code !== 0 && signal === null)
        lines.push(...stderr.split('\n').filter((l) => l && !l.includes('npm warn')));
      resolve({ code, signal, lines });
    });
  });
}

/** One `memory` line of a child: when it came, and the child's `process.memoryUsage()` then. */
export interface MemorySample {
  atMs: number;
  rssBytes: number;
  heapUsedBytes: number;
}

export interface Instance {
  readonly name: string;
  alive: boolean;
  /** The child's memory reports, oldest first (only when its env has MEMORY_MS). */
  memory: MemorySample[];
  /** Sends a message to the instance; resolves once it says the message was stored. */
  send(message: { conversationId: string; messageId: string; text: string }): Promise<string>;
  kill(): void;
  quit(): Promise<void>;
  errors: string[];
}

/** Starts a child in `serve` mode: messages go in on stdin, one JSON line each. */
export function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/crash/child.ts'], {
    env: { ...process.env, ...env, MODE: 'serve' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // A write to a child that just died fails with EPIPE; its 'exit' reports the messages as lost.
  child.stdin.on('error', () => undefined);
  const waiting = new Map<string, (status: string) => void>();
  const errors: string[] = [];
  const memory: MemorySample[] = [];
  let buffer = '';
  return new Promise((resolve, reject) => {
    const instance: Instance = {
      name,
      alive: true,
      memory,
      errors,
      send(message) {
        if (!instance.alive) return Promise.resolve('lost');
        return new Promise((done) => {
          waiting.set(`${message.conversationId}/${message.messageId}`, done);
          child.stdin.write(`${JSON.stringify(message)}\n`);
        });
      },
      kill() {
        instance.alive = false;
        child.kill('SIGKILL');
      },
      quit() {
        return new Promise((done) => {
          child.once('exit', () => done());
          child.stdin.write('quit\n');
        });
      },
    };
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) {
        if (line.startsWith('ready')) resolve(instance);
        else if (line.startsWith('error')) errors.push(line);
        else if (line.startsWith('memory ')) {
          const [, rss, heapUsed] = line.split(' ');
          memory.push({ atMs: Date.now(), rssBytes: Number(rss), heapUsedBytes: Number(heapUsed) });
        } else {
          const [status, id] = line.split(' ');
          waiting.get(id ?? '')?.(status ?? '');
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (!text.includes('npm warn')) errors.push(text);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      instance.alive = false;
      // Messages it had not acknowledged are lost with it: the sender sends them elsewhere.
      for (const done of waiting.values()) done('lost');
      waiting.clear();
      if (signal === null && code !== 0)
        reject(new Error(`instance ${name} exited ${code}: ${errors.join('')}`));
    });
  });
}
