import type { ServerResponse } from 'node:http';
import type { RunListener } from './run.js';
import type { StreamEvent } from './wire.js';

/** One server-sent event, as the API frames it: the event name, then the JSON data. */
export function formatEvent(event: StreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Opens a `text/event-stream` answer and returns a run listener that writes each event in one
 * `write` (so a client never sees half an event) and ends the answer when the run ends.
 */
export function openEventStream(res: ServerResponse, headers: Record<string, string>): RunListener {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...headers,
  });
  res.flushHeaders();
  return {
    event(event) {
      if (!res.writableEnded && !res.destroyed) res.write(formatEvent(event));
    },
    end() {
      if (!res.writableEnded) res.end();
    },
  };
}
