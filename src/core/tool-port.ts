/** What a tool's idempotency key may depend on besides its arguments: the turn that asked for it. */
export interface KeyContext {
  tenantId: string;
  conversationId: string;
  /** The turn's number in the conversation (1 for the first reply). */
  turn: number;
  /** The ids of the customer messages the asking attempt answers. */
  messageIds: readonly string[];
}
