import { historyFindings } from './history-checks.js';
import type { ConversationFigures } from './metrics.js';
import type { ConversationRecord } from './recorder.js';

export interface Violation {
  guarantee: number;
  conversationId: string;
  detail: string;
}

/**
 * Checks DESIGN.md's guarantees on one finished conversation, from what the simulator observed.
 * It knows nothing of how a strategy works, so it judges graft and the others alike.
 *
 * The adversarial world has rules of its own (see `historyFindings`): the contexts are compared
 * with effect *statuses*, writes by the tools' own log. Its immediacy is not checked (a frozen
 * instance takes a message late, and messages past the attempts-per-turn bound steer by design),
 * nor the polite world's blind-write rule (a fenced late run still in flight is not a write).
 * With humans in the loop there (approvals and takeovers, DESIGN.md "Humans in the loop"), their
 * rules are reported as guarantee 9 (see `humanFindings`), and the missing-effect figure leaves out
 * what a person refused or handled (see `missingWithHumans`).
 */
export function checkConversation(
  record: ConversationRecord,
  figures: ConversationFigures,
  world: 'polite' | 'adversarial' = 'polite',
): Violation[] {
  const violations: Violation[] = [];
  const add = (guarantee: number, detail: string) =>
    violations.push({ guarantee, conversationId: record.conversationId, detail });
  if (world === 'adversarial') {
    for (const finding of historyFindings(record)) add(finding.guarantee, finding.detail);
    if (figures.staleReplies > 0) add(2, `${figures.staleReplies} stale replies`);
    if (figures.duplicateEffects > 0) add(5, `${figures.duplicateEffects} duplicate effects`);
    if (figures.missingEffects > 0) add(5, `the shop's final state lacks what the customer asked for`);
    return violations;
  }
  for (const m of record.messages) {
    const immediate = record.calls.some((c) => c.at === m.at && c.op > m.op && c.userTexts.includes(m.text));
    if (!immediate) add(1, `message ${m.id} did not start a model call at once`);
  }
  if (figures.staleReplies > 0) add(2, `${figures.staleReplies} stale replies`);
  if (figures.maxRepliesPerMessage > 1)
    add(2, `a message was answered by ${figures.maxRepliesPerMessage} replies`);
  for (const effect of record.effects) {
    const asker = effect.requestedBy === null ? null : record.calls[effect.requestedBy];
    if (!asker) continue;
    for (const other of record.effects) {
      if (other === effect || other.startOp > effect.startOp || other.requestedBy === effect.requestedBy)
        continue;
      const settled = other.endOp !== null && other.endOp < effect.startOp;
      if (!asker.held.has(other.toolCallId) || !settled) {
        add(
          3,
          `${effect.tool} ${effect.toolCallId} ran blind to ${other.tool} ${other.toolCallId}${settled ? '' : ' (still running)'}`,
        );
      }
    }
  }
  if (figures.orphanedEffects > 0) add(4, `${figures.orphanedEffects} orphaned effects`);
  if (figures.duplicateEffects > 0) add(5, `${figures.duplicateEffects} duplicate effects`);
  if (figures.missingEffects > 0) add(5, `the shop's final state lacks what the customer asked for`);
  if (figures.unansweredMessages > 0) add(8, `${figures.unansweredMessages} unanswered messages`);
  return violations;
}
