import { Agent, createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { estimateTokens } from '../../src/model/tokens.js';
import { readBody } from './http.js';

/**
 * The counting proxy: the one place where every system's model calls are counted. Each system
 * is given `<proxy>/<system>/v1` as its Responses API base URL; the proxy forwards to the emulator
 * byte for byte (streams included) and reads, on the side, each create's status, response id and
 * usage.
 *
 * A call whose client hung up before the response was complete (graft aborts superseded calls)
 * is cut upstream too, as a closed connection to the API would be. The emulator leaves such a
 * response's usage at zero, while the API bills the input a call was sent; so after a batch,
 * `settleAborted` sends each aborted create again, with `max_output_tokens: 16`, `stream: false`
 * and `store: false`, and takes its `input_tokens` (the whole context, as the API bills it). Its
 * output tokens are those streamed before the cut (text deltas at four characters a token).
 */

export interface CallRecord {
  system: string;
  /** The harness clock (performance.now) when the request arrived and when it ended. */
  startedAt: number;
  endedAt: number | null;
  status: number | null;
  aborted: boolean;
  responseId: string | null;
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  /** The create's body, kept for an aborted call until its input tokens are measured. */
  body: Record<string, unknown> | null;
  settled: boolean;
}

export interface CountingProxy {
  /** `<proxy>/<system>/v1`: the base URL to give a system. */
  baseUrl(system: string): string;
  calls: CallRecord[];
  /** Creates of this system in flight. */
  inFlight(system: string): number;
  /** Measures the input tokens of aborted calls (see above). */
  settleAborted(): Promise<void>;
  close(): Promise<void>;
}

export async function startCountingProxy(emulatorUrl: string): Promise<CountingProxy> {
  const upstream = new URL(emulatorUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const calls: CallRecord[] = [];
  const inFlight = new Map<string, number>();
  const bump = (system: string, by: number) => inFlight.set(system, (inFlight.get(system) ?? 0) + by);

  const server = createServer((req, res) => {
    const match = /^\/([\w.-]+)(\/v1\/.*)$/.exec(req.url ?? '');
    if (!match) {
      res.writeHead(404).end();
      return;
    }
    const [, system, path] = match as unknown as [string, string, string];
    const isCreate = req.method === 'POST' && path.split('?')[0] === '/v1/responses';
    void readBody(req).then((text) => {
      const record: CallRecord | null = isCreate
        ? {
            system,
            startedAt: performance.now(),
            endedAt: null,
            status: null,
            aborted: false,
            responseId: null,
            inputTokens: 0,
            cachedTokens: 0,
            outputTokens: 0,
            body: parseObject(text),
            settled: false,
          }
        : null;
      if (record) {
        calls.push(record);
        bump(system, 1);
      }
      let reader: ReturnType<typeof responseReader> | null = null;
      const headers = { ...req.headers, host: upstream.host };
      delete headers['content-length'];
      const forwarded = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          path,
          method: req.method,
          headers: { ...headers, 'content-length': Buffer.byteLength(text) },
          agent,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          reader = record ? responseReader(record, up) : null;
          up.on('data', (chunk: Buffer) => {
            res.write(chunk);
            reader?.feed(chunk);
          });
          up.on('end', () => {
            reader?.end();
            res.end();
          });
          up.on('error', () => res.destroy());
        },
      );
      let done = false;
      const finish = (aborted: boolean) => {
        if (done || !record) return;
        done = true;
        record.endedAt = performance.now();
        record.aborted = aborted;
        reader?.end();
        if (!aborted) record.body = null;
        bump(system, -1);
      };
      res.on('finish', () => finish(false));
      // The client hung up before the answer was complete: cut the upstream call too.
      res.on('close', () => {
        if (!res.writableFinished) {
          forwarded.destroy();
          finish(true);
        }
      });
      forwarded.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      forwarded.end(text);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const settleAborted = async () => {
    const pending = calls.filter((c) => c.aborted && !c.settled && c.body);
    await Promise.all(
      pending.map(async (call) => {
        call.settled = true;
        const body = { ...call.body, stream: false, store: false, background: false, max_output_tokens: 16 };
        try {
          const response = await fetch(`${emulatorUrl}/responses`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
            body: JSON.stringify(body),
          });
          const answer = (await response.json()) as { usage?: Usage };
          if (answer.usage) {
            call.inputTokens = answer.usage.input_tokens;
            call.cachedTokens = answer.usage.input_tokens_details?.cached_tokens ?? 0;
          }
        } catch {
          // Left at zero: the call is still counted.
        }
        call.body = null;
      }),
    );
  };

  return {
    baseUrl: (system) => `${url}/${system}/v1`,
    calls,
    inFlight: (system) => inFlight.get(system) ?? 0,
    settleAborted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}

interface Usage {
  input_tokens: number;
  input_tokens_details?: { cached_tokens?: number };
  output_tokens: number;
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Reads a create's answer (JSON, or a server-sent event stream) into its record. */
function responseReader(record: CallRecord, up: IncomingMessage): { feed(chunk: Buffer): void; end(): void } {
  record.status = up.statusCode ?? null;
  const streamed = String(up.headers['content-type'] ?? '').includes('text/event-stream');
  let buffer = '';
  let deltaChars = 0;
  let ended = false;
  const take = (response: { id?: string; usage?: Usage } | undefined) => {
    if (!response) return;
    if (response.id) record.responseId = response.id;
    if (response.usage && response.usage.input_tokens > 0) {
      record.inputTokens = response.usage.input_tokens;
      record.cachedTokens = response.usage.input_tokens_details?.cached_tokens ?? 0;
      record.outputTokens = response.usage.output_tokens;
    }
  };
  const event = (block: string) => {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (!data) return;
    const parsed = parseObject(data);
    if (!parsed) return;
    if (typeof parsed.delta === 'string') deltaChars += parsed.delta.length;
    take(parsed.response as { id?: string; usage?: Usage } | undefined);
  };
  return {
    feed(chunk) {
      buffer += chunk.toString('utf8');
      if (!streamed) return;
      let cut = buffer.indexOf('\n\n');
      while (cut >= 0) {
        event(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        cut = buffer.indexOf('\n\n');
      }
    },
    end() {
      if (ended) return;
      ended = true;
      if (streamed) {
        if (buffer.trim()) event(buffer);
        // Cut before its usage arrived: count what was streamed.
        if (record.outputTokens === 0) record.outputTokens = estimateTokens('x'.repeat(deltaChars));
      } else take(parseObject(buffer) as { id?: string; usage?: Usage } | undefined);
    },
  };
}
