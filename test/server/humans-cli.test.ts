import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BrainRequest } from '../../src/core/brain.js';
import { approvalsCommand } from '../../src/cli/approvals-command.js';
import { operatorMessageCommand, releaseCommand, takeoverCommand } from '../../src/cli/takeover-command.js';
import { callTool, say } from '../../src/model/scripted-brain.js';
import type { PendingApprovalView } from '../../src/server/view.js';
import { scriptedService, until } from './helpers.js';

/** `graft approvals`, `graft takeover`, `graft operator-message`, `graft release` against a running service. */

let t: Awaited<ReturnType<typeof scriptedService>> | null = null;
afterEach(async () => {
  vi.restoreAllMocks();
  await t?.close();
  t = null;
});

/** Runs a command with the service's URL and key in its environment: its exit code, output and errors. */
async function run(
  command: (
    argv: string[],
    options: { log: (line: string) => void; env: Record<string, string> },
  ) => Promise<number>,
  argv: string[],
  env: Record<string, string> = { GRAFT_URL: t!.url, GRAFT_API_KEY: t!.keysOf.acme },
) {
  const out: string[] = [];
  const errors: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
  try {
    const code = await command(argv, { log: (line) => out.push(line), env });
    return { code, out: out.join('\n'), err: errors.join('\n') };
  } finally {
    spy.mockRestore();
  }
}

const textsOf = (r: BrainRequest) =>
  r.input.flatMap((i) => (i.type === 'message' && typeof i.content === 'string' ? [i.content] : []));

describe('the CLI for people in the loop', () => {
  it('lists and approves a request, then takes the conversation over, replies and releases it', async () => {
    t = await scriptedService([
      [callTool('cancel', { order: 'o2' })],
      [say('A colleague will confirm.')],
      [say('Your order o2 is cancelled.')],
    ]);
    await t.post('c2', 'm1', 'Cancel o2, please.');
    await until(() => t!.receiver.received.length === 1, 'the first reply');

    const listed = await run(approvalsCommand, ['list']);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^c2:eff_\d+_1 {2}cancel \{"order":"o2"\} {2}since \S+ {2}expires \S+$/);
    const json = await run(approvalsCommand, ['list', '--json']);
    const [request] = JSON.parse(json.out) as PendingApprovalView[];
    expect(request).toMatchObject({ conversationId: 'c2', tool: 'cancel', arguments: { order: 'o2' } });

    const approved = await run(approvalsCommand, [
      'approve',
      request!.id,
      '--note',
      'customer verified',
      '--operator',
      'ana',
    ]);
    expect(approved).toEqual({ code: 0, out: `approved ${request!.id} by ana: cancel runs now`, err: '' });
    await until(() => t!.receiver.received.length === 2, 'the follow-up');
    expect(t.runs).toEqual(['cancel o2']);
    expect((await run(approvalsCommand, ['list'])).out).toBe('no requests wait for approval');
    const again = await run(approvalsCommand, ['reject', request!.id]);
    expect(again.code).toBe(1);
    expect(again.err).toBe(
      `graft approvals: cannot reject ${request!.id}: request ${request!.id} was already approved by ana (409 request_not_pending)`,
    );

    // GRAFT_OPERATOR names the person when --operator is not given.
    const env = { GRAFT_URL: t.url, GRAFT_API_KEY: t.keysOf.acme, GRAFT_OPERATOR: 'bob' };
    expect(await run(takeoverCommand, ['c2'], env)).toEqual({
      code: 0,
      out: 'bob has conversation c2; the bot is paused',
      err: '',
    });
    const taken = await run(takeoverCommand, ['--operator', 'carol', 'c2']);
    expect(taken.code).toBe(1);
    expect(taken.err).toMatch(
      /cannot take over c2: conversation c2 is already taken over by bob \(409 already_taken_over\)/,
    );
    await t.post('c2', 'm2', 'Will I get a refund?');
    const sent = await run(operatorMessageCommand, ['c2', 'Yes, within 5 days.']);
    expect(sent.code).toBe(0);
    expect(sent.out).toMatch(/^reply rep_\d+ committed in c2$/);
    await until(() => t!.receiver.received.length === 3, "the operator's reply");
    expect(t.receiver.received[2]!.body).toMatchObject({
      kind: 'operator',
      text: 'Yes, within 5 days.',
      covers: ['m2'],
    });
    expect(await run(releaseCommand, ['c2', '--json'])).toEqual({
      code: 0,
      out: JSON.stringify({ conversationId: 'c2', status: 'released' }),
      err: '',
    });
    const released = await run(releaseCommand, ['c2']);
    expect(released.code).toBe(1);
    expect(released.err).toContain(
      'cannot release c2: conversation c2 is not taken over (409 not_taken_over)',
    );
    expect(t.brain.calls).toHaveLength(3);
  });

  it('says why a withdrawn request cannot be approved', async () => {
    // The request's attempt is still writing its reply (slowly) when the customer writes again:
    // the attempt is superseded, and its request withdrawn.
    const answer = (r: BrainRequest) =>
      textsOf(r).includes('Actually, keep it.') ? [say('Fine, your order stays.')] : [say('never sent')];
    t = await scriptedService([[callTool('cancel', { order: 'o1' })], answer, answer], {
      latencyMs: (result) => (JSON.stringify(result.output).includes('never sent') ? 10_000 : 0),
    });
    await t.post('c1', 'm1', 'Cancel my order o1.');
    let id = '';
    await until(async () => {
      const [request] = (await t!.api('GET', '/v1/approvals')).body.approvals as PendingApprovalView[];
      id = request?.id ?? '';
      return request !== undefined;
    }, 'the request');
    await t.post('c1', 'm2', 'Actually, keep it.');
    await until(() => t!.receiver.received.length === 1, 'the reply');
    expect(t.receiver.received[0]!.body).toMatchObject({
      text: 'Fine, your order stays.',
      covers: ['m1', 'm2'],
    });
    const refused = await run(approvalsCommand, ['approve', id]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(
      new RegExp(
        `^graft approvals: cannot approve ${id}: request c1:eff_\\d+_1 was withdrawn: the customer wrote again before it was decided.* \\(409 request_not_pending\\)$`,
      ),
    );
    expect(t.runs).toEqual([]);
  });

  it('refuses bad command lines with exit 2 and unknown ids with exit 1', async () => {
    t = await scriptedService([[say('Hi!')]]);
    await t.post('c1', 'm1', 'Hi');
    await until(() => t!.receiver.received.length === 1, 'the reply');
    const noKey = { GRAFT_URL: t.url };
    expect((await run(approvalsCommand, ['list'], noKey)).err).toMatch(
      /needs --api-key \(or GRAFT_API_KEY\)/,
    );
    expect((await run(approvalsCommand, ['approve'])).code).toBe(2);
    expect((await run(approvalsCommand, ['maybe'])).err).toMatch(/unknown action 'maybe'/);
    expect((await run(approvalsCommand, ['approve', 'a', 'b'])).err).toMatch(/unexpected argument 'b'/);
    expect((await run(takeoverCommand, ['c1'])).err).toMatch(/needs --operator \(or GRAFT_OPERATOR\)/);
    expect((await run(takeoverCommand, ['--operator', 'ana'])).err).toMatch(/name the conversation id/);
    expect((await run(operatorMessageCommand, ['c1'])).err).toMatch(/name the text/);
    expect((await run(releaseCommand, ['c1', '--bogus'])).err).toMatch(/unknown flag --bogus/);

    const missing = await run(approvalsCommand, ['approve', 'c1:eff_99_1']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(
      /cannot approve c1:eff_99_1: conversation c1 has no request for approval eff_99_1 \(404 not_found\)/,
    );
    expect((await run(releaseCommand, ['nobody'])).err).toMatch(/no conversation 'nobody' \(404 not_found\)/);
    const wrongKey = await run(approvalsCommand, ['list'], { GRAFT_URL: t.url, GRAFT_API_KEY: 'nope' });
    expect(wrongKey).toMatchObject({
      code: 1,
      err: expect.stringContaining('the API key is not valid (401 unauthorized)'),
    });
    const down = await run(releaseCommand, ['c1', '--url', 'http://127.0.0.1:9']);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/cannot release c1: http:\/\/127\.0\.0\.1:9 does not answer/);
    for (const command of [approvalsCommand, takeoverCommand, operatorMessageCommand, releaseCommand]) {
      const help = await run(command, ['--help'], {});
      expect(help.code).toBe(0);
      expect(help.out).toMatch(/^Usage: graft (approvals|takeover|operator-message|release) /);
    }
  });
});
