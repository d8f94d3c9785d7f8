import type { AttemptView, ConversationView, ModelCallView, ToolCallView } from './view.js';

/** A node of the printed tree: a line, and the nodes under it. */
interface Node {
  line: string;
  children: Node[];
}

const clip = (text: string, max = 72): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};
const json = (value: unknown, max = 60): string =>
  clip(typeof value === 'string' ? value : JSON.stringify(value), max);
const time = (iso: string | null): string => (iso === null ? '' : iso.slice(11, 23));

function toolCallNode(call: ToolCallView, view: ConversationView): Node {
  const effect = call.effectId === null ? undefined : view.effects.find((e) => e.id === call.effectId);
  const outcome =
    call.outcome === 'effect'
      ? `effect ${call.effectId} (${effect?.status ?? '?'})`
      : call.outcome === 'read'
        ? `read ${json(call.detail, 40)}`
        : call.outcome === 'refused'
          ? `refused: ${clip(call.detail ?? '', 50)}`
          : call.kind === 'invalid'
            ? 'invalid'
            : 'unanswered';
  return { line: `${call.name} ${json(call.arguments, 50)} → ${outcome}`, children: [] };
}

function callNode(call: ModelCallView, view: ConversationView): Node {
  const parts = [
    `call ${call.id}`,
    call.reason,
    call.status === 'responded' ? (call.responseId ?? '') : call.status,
  ];
  if (call.failure) parts.push(`${call.failure.kind}: ${clip(call.failure.message, 40)}`);
  if (call.usage)
    parts.push(
      `in ${call.usage.inputTokens} (cached ${call.usage.cachedInputTokens}) / out ${call.usage.outputTokens} tokens`,
    );
  if (call.stateless) parts.push('stateless');
  if (call.messages.length > 0) parts.push(`reads ${call.messages.join(', ')}`);
  const children: Node[] = call.grafts.map((g) => ({
    line: `graft ${g.effectId} (${g.status})`,
    children: [],
  }));
  children.push(...call.toolCalls.map((t) => toolCallNode(t, view)));
  return { line: parts.filter(Boolean).join(' · '), children };
}

function attemptNode(attempt: AttemptView, view: ConversationView): Node {
  const parts = [
    `attempt ${attempt.id}`,
    attempt.supersededBy ? `superseded by ${attempt.supersededBy}` : attempt.status,
  ];
  if (attempt.reason === 'follow-up') parts.push('follow-up');
  parts.push(attempt.basedOn ? `from ${attempt.basedOn.callId}` : 'from the start');
  if (attempt.rebases > 0) parts.push(`${attempt.rebases} rebase${attempt.rebases > 1 ? 's' : ''}`);
  parts.push(time(attempt.startedAt));
  return { line: parts.join(' · '), children: attempt.modelCalls.map((c) => callNode(c, view)) };
}

function turnNodes(view: ConversationView): Node[] {
  const turns = Math.max(view.turn, ...view.attempts.map((a) => a.turn));
  const nodes: Node[] = [];
  for (let turn = 1; turn <= turns; turn += 1) {
    const reply = view.replies.find((r) => r.turn === turn);
    const attempts = view.attempts.filter((a) => a.turn === turn);
    const messages = view.messages.filter((m) =>
      reply ? reply.covers.includes(m.id) : m.coveredBy === null,
    );
    if (!reply && attempts.length === 0 && messages.length === 0) continue;
    const head = reply
      ? `turn ${turn} · ${reply.kind}${reply.operator === null ? '' : ` by ${reply.operator}`} ${reply.id} ${reply.status}${reply.needsHuman ? ' · needs a human' : ''} · covers ${reply.covers.join(', ')}`
      : `turn ${turn} · open`;
    const children: Node[] = messages.map((m) => ({
      line: `message ${m.id} ${time(m.receivedAt)} "${clip(m.text, 60)}"`,
      children: [],
    }));
    children.push(...attempts.map((a) => attemptNode(a, view)));
    if (reply) children.push({ line: `reply "${clip(reply.text, 80)}"`, children: [] });
    nodes.push({ line: head, children });
  }
  return nodes;
}

function render(node: Node, prefix: string, last: boolean, lines: string[], root: boolean): void {
  lines.push(root ? node.line : `${prefix}${last ? '└─ ' : '├─ '}${node.line}`);
  const inner = root ? '' : `${prefix}${last ? '   ' : '│  '}`;
  node.children.forEach((child, i) => render(child, inner, i === node.children.length - 1, lines, false));
}

/**
 * The conversation as a tree for the terminal: turns, their messages and attempts, each attempt's
 * model calls with the grafts in their context and their tool calls, the reply; then the effect
 * ledger.
 */
export function renderConversationTree(view: ConversationView): string {
  const headText = view.head
    ? ` · head ${view.head.callId}${view.head.responseId ? ` (${view.head.responseId})` : ''}`
    : '';
  const root: Node = {
    line: `conversation ${view.id} · tenant ${view.tenantId} · ${view.messages.length} messages · ${view.replies.length} replies · ${view.attempts.length} attempts${headText}${view.takenOver ? ` · taken over by ${view.takenOver.operator}` : ''}`,
    children: turnNodes(view),
  };
  if (view.effects.length > 0) {
    root.children.push({
      line: 'effects',
      children: view.effects.map((e) => ({
        line: `${e.id} · ${e.tool} ${json(e.arguments, 50)} · ${e.status} · attempt ${e.attemptId} · key ${clip(e.idempotencyKey, 40)}${e.result === null ? '' : ` → ${json(e.result, 60)}`}${e.note === null ? '' : ` (${e.note})`}`,
        children: [],
      })),
    });
  }
  const lines: string[] = [];
  render(root, '', true, lines, true);
  return lines.join('\n');
}
