import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { emulatorCommand } from '../../src/emulator/cli.js';

describe('graft emulator', () => {
  it('serves the Responses API with the shop clerk until stopped', async () => {
    const controller = new AbortController();
    const lines: string[] = [];
    const listening = new Promise<string>((resolve) => {
      void emulatorCommand(['--port', '0', '--api-key', 'sk-cli-test'], {
        signal: controller.signal,
        log: (line) => {
          lines.push(line);
          const url = /(http:\/\/\S+\/v1)/.exec(line)?.[1];
          if (url) resolve(url);
        },
      }).then((code) => lines.push(`exit ${code}`));
    });
    const url = await listening;
    const client = new OpenAI({ apiKey: 'sk-cli-test', baseURL: url, maxRetries: 0 });
    const response = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hello' });
    expect(response.status).toBe('completed');
    expect(response.output_text.length).toBeGreaterThan(0);
    controller.abort();
    await vi.waitFor(() => expect(lines).toContain('exit 0'));
  });

  it('rejects an unknown latency profile with exit code 2', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await emulatorCommand(['--latency', 'slow'])).toBe(2);
    expect(error.mock.calls[0]?.[0]).toContain('--latency must be zero or realistic');
    error.mockRestore();
  });
});
