/** One server-sent event: its `event:` name (default `message`), its data lines joined, its id. */
export interface SseMessage {
  event: string;
  data: string;
  id: string | null;
}

/**
 * An incremental parser of the `text/event-stream` format: feed it text as it arrives, it calls
 * `onMessage` for each complete event. Comments (`: ping`) are ignored; a field without a colon is
 * a field with an empty value, as the format says.
 */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | null = null;

  constructor(private readonly onMessage: (message: SseMessage) => void) {}

  feed(text: string): void {
    this.buffer += text;
    for (let end = this.lineEnd(); end !== -1; end = this.lineEnd()) {
      const line = this.buffer.slice(0, end);
      const skip = this.buffer[end] === '\r' && this.buffer[end + 1] === '\n' ? 2 : 1;
      this.buffer = this.buffer.slice(end + skip);
      this.line(line);
    }
  }

  private lineEnd(): number {
    const n = this.buffer.indexOf('\n');
    const r = this.buffer.indexOf('\r');
    // A lone CR at the very end may be the first half of CRLF: wait for more.
    if (r !== -1 && r === this.buffer.length - 1 && (n === -1 || n > r)) return n === -1 ? -1 : n;
    if (n === -1) return r;
    return r === -1 ? n : Math.min(n, r);
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0)
        this.onMessage({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }
}
