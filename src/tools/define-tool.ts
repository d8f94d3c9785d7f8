import { z } from 'zod';
import { GraftError } from '../core/errors.js';
import type { FunctionToolSpec } from '../core/items.js';
import type { KeyContext } from '../core/tool-port.js';

export type { KeyContext };

/**
 * Thrown by a tool to say that nothing happened: the call was refused before it changed anything
 * (a validation error, an unknown order, a fenced key). graft records such a write as `failed`,
 * and a later call may run it again under a new key generation.
 *
 * Any other throw from a write tool is an *unknown* outcome: the write may have happened before
 * the error, so graft asks the tool's `reconcile` and never re-runs the key blindly.
 *
 * @example
 * if (!order) throw new ToolRejection(`Order '${orderId}' does not exist.`);
 */
export class ToolRejection extends GraftError {
  override readonly name = 'ToolRejection';
  readonly kind = 'terminal';
  constructor(
    message: string,
    /** `fenced`: the key was made unusable by `reconcile` (a late run of a call that did not happen). */
    readonly code: 'rejected' | 'fenced' = 'rejected',
  ) {
    super(message);
  }
}

/** What a running tool is told about the call. */
export interface ToolContext extends KeyContext {
  attemptId: string;
  /** The call id the model gave this call. */
  toolCallId: string;
  /** The ledger's id for this effect (write tools only). */
  effectId: string | null;
  /** The scoped idempotency key (write tools only); store it with the write to make it at-most-once. */
  idempotencyKey: string | null;
  /**
   * Fires at the tool's time bound (`timeoutMs`, else `limits.toolTimeoutMs`). A tool may stop
   * then; graft never kills it. Throw a `ToolRejection` only if nothing happened.
   */
  signal: AbortSignal;
}

/**
 * What `reconcile` found out about a write whose outcome is unknown. `happened: false` is a
 * fence: before answering it, the tool's system must make the key unusable (a tombstone under the
 * same unique key), so that a late run of the original call fails with a `ToolRejection` instead
 * of writing. See docs/tools.md.
 */
export type Reconciliation = { happened: true; output: unknown } | { happened: false };

export interface ToolDefinition<Args = unknown> {
  name: string;
  description: string;
  parameters: z.ZodType<Args>;
  /**
   * `write` tools change the world and are gated, recorded and grafted; `read` tools are only
   * recorded. A tool that claims `read` but writes breaks graft's guarantees.
   */
  effect: 'read' | 'write';
  /** Derives the write's idempotency key; defaults to the tool name, the turn and the arguments. */
  idempotencyKey?(args: Args, ctx: KeyContext): string;
  /**
   * Tells whether a write whose outcome is unknown (a crash, a hang, a throw) happened, and fences
   * the key when it did not (see `Reconciliation`). Without it, such a write blocks every write
   * of the conversation until a person resolves it.
   */
  reconcile?(key: string, ctx: KeyContext): Promise<Reconciliation>;
  /**
   * Runs the tool. The value returned is sent to the model as JSON. A `ToolRejection` settles a
   * write as failed (nothing happened); any other throw makes its outcome unknown.
   */
  run(args: Args, ctx: ToolContext): unknown;
  /**
   * How long the tool may run before its outcome is recorded as unknown (default
   * `limits.toolTimeoutMs`). The write still blocks every write gate while it may be in flight.
   */
  timeoutMs?: number;
  /** How long it may run before graft asks its `reconcile` (default `limits.toolHangMs`, at least `timeoutMs`). */
  hangMs?: number;
  /**
   * Whether a call needs a person's approval before it runs (write tools only): `true`, or a
   * predicate on the validated arguments (a predicate that throws means yes). Such a call becomes a
   * request (`graft.approvals()`): it blocks every other write of the conversation until a person
   * decides (`graft.decide`) or `approvalTimeoutMs` passes (then it is rejected as expired).
   */
  approval?: boolean | ApprovalPredicate<Args>;
  /** How long a request may wait for a decision (default 24 hours). */
  approvalTimeoutMs?: number;
}

/**
 * A predicate on a call's arguments, declared as a method so that a tool of any argument type is
 * still a `ToolDefinition` (method parameters are checked bivariantly, as `run`'s are).
 */
export type ApprovalPredicate<Args> = { check(args: Args, ctx: KeyContext): boolean }['check'];

/** How long a request for approval waits for a decision when its tool does not say. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/**
 * Declares a tool.
 *
 * @example
 * const getOrder = defineTool({
 *   name: 'get_order',
 *   description: 'Look up an order',
 *   parameters: z.object({ order_id: z.string() }),
 *   effect: 'read',
 *   run: ({ order_id }) => shop.getOrder(order_id),
 * });
 */
export function defineTool<Args>(definition: ToolDefinition<Args>): ToolDefinition<Args> {
  if (!/^[a-zA-Z0-9_-]{1,64}$/.test(definition.name)) {
    throw new TypeError(`Tool name '${definition.name}' must match ^[a-zA-Z0-9_-]{1,64}$ (an API rule).`);
  }
  if (definition.approval !== undefined && definition.approval !== false && definition.effect !== 'write')
    throw new TypeError(`Tool '${definition.name}': only a write tool can need approval.`);
  const timeout = definition.approvalTimeoutMs;
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout > 0))
    throw new TypeError(`Tool '${definition.name}': approvalTimeoutMs must be a positive number of ms.`);
  return definition;
}

/**
 * JSON text with object keys sorted, so equal values always give equal text.
 *
 * @example
 * canonicalJson({ b: 1, a: [true, null] }); // '{"a":[true,null],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return canonicalJson(withJson.toJSON());
  // Built by concatenation rather than map/join: every model call, tool call and ledger entry
  // canonicalises its arguments.
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i += 1) {
      if (i > 0) text += ',';
      // A hole writes nothing, as `join` writes it.
      if (!(i in value)) continue;
      const v: unknown = value[i];
      text += v === undefined || typeof v === 'function' ? 'null' : canonicalJson(v);
    }
    return `${text}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = sortKeys(Object.keys(record));
  let text = '{';
  for (const key of keys) {
    const v = record[key];
    if (v === undefined || typeof v === 'function') continue;
    if (text.length > 1) text += ',';
    text += `${JSON.stringify(key)}:${canonicalJson(v)}`;
  }
  return `${text}}`;
}

/**
 * Keys in `sort()` order (by UTF-16 code units, as `<` compares strings). Objects have few keys:
 * an insertion sort in place spares `sort()` its scratch array. Keys are distinct, so any correct
 * sort gives the same order.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i += 1) {
    const key = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && key < keys[j]!; j -= 1) keys[j + 1] = keys[j]!;
    keys[j + 1] = key;
  }
  return keys;
}

/** The default idempotency key: the tool, the turn and the arguments. */
export function defaultIdempotencyKey(name: string, args: unknown, ctx: KeyContext): string {
  return `${name}:t${ctx.turn}:${canonicalJson(args)}`;
}

const specs = new WeakMap<object, FunctionToolSpec>();
/**
 * Declarations by parameter schema, then by name and description: tools are often made afresh
 * from the same schemas (the simulator makes a set per batch of conversations), and converting a
 * schema to JSON Schema costs far more than the rest. Zod schemas are immutable.
 */
const specsBySchema = new WeakMap<object, Map<string, FunctionToolSpec>>();

/** The function tool declaration sent to the model (computed once per tool). */
export function toolSpec(tool: ToolDefinition<never> | ToolDefinition): FunctionToolSpec {
  const cached = specs.get(tool);
  if (cached) return cached;
  const key = `${tool.name}\u0000${tool.description}`;
  let bySchema = specsBySchema.get(tool.parameters);
  let spec = bySchema?.get(key);
  if (!spec) {
    const parameters = z.toJSONSchema(tool.parameters as z.ZodType, { target: 'draft-7' }) as Record<
      string,
      unknown
    >;
    delete parameters.$schema;
    spec = { type: 'function', name: tool.name, description: tool.description, parameters, strict: false };
    if (!bySchema) specsBySchema.set(tool.parameters, (bySchema = new Map<string, FunctionToolSpec>()));
    bySchema.set(key, spec);
  }
  specs.set(tool, spec);
  return spec;
}
