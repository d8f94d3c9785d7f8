import type { GraftEvent } from '../core/events.js';
import type { ConversationState } from '../core/state.js';

type Labels = Record<string, string>;

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  values: Map<string, number>;
}

interface Histogram {
  help: string;
  buckets: readonly number[];
  series: Map<string, { counts: number[]; sum: number; count: number }>;
}

/** Reply latency buckets, in seconds: from a fast answer to a long tool run. */
const LATENCY_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60];

const escape = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (labels: Labels) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
};

/**
 * The service's Prometheus metrics, counted from the events this instance appends (`observe`, fed
 * by `onEvent` with the source `appended`) and from the HTTP layer. Events read back from the log
 * (another instance's appends, or older ones folded when a conversation is loaded) are not
 * counted: with several instances, each event is counted by the one that appended it, so the sum
 * of a counter over the instances is the total. Counters restart with the process, as Prometheus
 * expects; gauges are per instance.
 */
export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly histograms = new Map<string, Histogram>();
  private readonly gauges = new Map<string, { help: string; read: () => number }>();

  constructor(private readonly since: number = Date.now()) {}

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    let family = this.families.get(name);
    if (!family) this.families.set(name, (family = { help, type: 'counter', values: new Map() }));
    const key = labelText(labels);
    family.values.set(key, (family.values.get(key) ?? 0) + by);
  }

  observeHistogram(name: string, help: string, labels: Labels, value: number): void {
    let histogram = this.histograms.get(name);
    if (!histogram)
      this.histograms.set(name, (histogram = { help, buckets: LATENCY_BUCKETS_S, series: new Map() }));
    const key = labelText(labels);
    let series = histogram.series.get(key);
    if (!series)
      histogram.series.set(key, (series = { counts: histogram.buckets.map(() => 0), sum: 0, count: 0 }));
    histogram.buckets.forEach((le, i) => {
      if (value <= le) series.counts[i]! += 1;
    });
    series.sum += value;
    series.count += 1;
  }

  /** A gauge read when the metrics are scraped. */
  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, read });
  }

  /** Counts one event this instance appended (call from graft's `onEvent`, source `appended`). */
  observe(tenantId: string, event: GraftEvent, state: ConversationState): void {
    if (event.at < this.since) return;
    const tenant = { tenant: tenantId };
    switch (event.type) {
      case 'message.received':
        return this.inc('graft_messages_total', 'Customer messages received.', tenant);
      case 'attempt.started':
        return this.inc('graft_attempts_total', 'Attempts started (branches).', {
          ...tenant,
          reason: event.reason,
        });
      case 'attempt.superseded':
        return this.inc('graft_attempts_superseded_total', 'Attempts superseded by a newer message.', tenant);
      case 'model.requested':
        return this.observeModelRequest(tenantId, event);
      case 'model.responded':
        return this.observeUsage(tenantId, event.usage);
      case 'model.failed':
        this.inc('graft_model_failures_total', 'Model calls that failed or were aborted.', {
          ...tenant,
          kind: event.kind,
        });
        return event.usage ? this.observeUsage(tenantId, event.usage) : undefined;
      case 'effect.started':
        // A write that needs approval starts only once approved (`effect.approved`).
        for (const effect of event.effects)
          if (effect.approval)
            this.inc('graft_approval_requests_total', "Writes that asked for a person's approval.", {
              ...tenant,
              tool: effect.tool,
            });
          else this.inc('graft_effects_total', 'Write effects started.', { ...tenant, tool: effect.tool });
        return;
      case 'effect.approved':
        this.inc('graft_effects_total', 'Write effects started.', { ...tenant, tool: event.request.tool });
        return this.inc('graft_approval_decisions_total', 'Requests for approval that ended, by how.', {
          ...tenant,
          decision: 'approved',
        });
      case 'effect.rejected':
        return this.inc('graft_approval_decisions_total', 'Requests for approval that ended, by how.', {
          ...tenant,
          decision: event.cause,
        });
      case 'conversation.taken-over':
        return this.inc('graft_takeovers_total', 'Conversations taken over by a person.', tenant);
      case 'effect.settled':
        return this.inc('graft_effects_settled_total', 'Write effects settled.', {
          ...tenant,
          outcome: event.outcome,
        });
      case 'effect.unknown':
        return this.inc('graft_effects_settled_total', 'Write effects settled.', {
          ...tenant,
          outcome: 'unknown',
        });
      case 'reply.committed':
        return this.observeReply(tenantId, event, state);
      case 'reply.delivered':
        return this.inc('graft_replies_delivered_total', 'Replies delivered.', tenant);
      case 'reply.dead-lettered':
        return this.inc('graft_dead_letters_total', 'Reply deliveries given up on (dead-lettered).', {
          ...tenant,
          reason: event.reason,
        });
      case 'reply.redelivery-requested':
        return this.inc('graft_redeliveries_total', 'Dead-lettered replies sent for delivery again.', tenant);
      case 'reply.undelivered':
        return this.inc(
          'graft_replies_undelivered_total',
          'Replies with no delivery target (readable over the API and SSE, not delivered).',
          tenant,
        );
      default:
        return;
    }
  }

  private observeModelRequest(
    tenantId: string,
    event: Extract<GraftEvent, { type: 'model.requested' }>,
  ): void {
    const tenant = { tenant: tenantId };
    this.inc('graft_model_calls_total', 'Model calls requested.', { ...tenant, reason: event.reason });
    if (event.reason === 'rebase')
      this.inc('graft_rebases_total', 'Rebases: calls refused at a gate and decided again.', tenant);
    const grafts = event.entries.filter(
      (e) => e.item.type === 'function_call_output' && e.item.call_id.startsWith('graft_'),
    ).length;
    if (grafts > 0)
      this.inc(
        'graft_grafts_total',
        "Effects of other branches grafted into a call's context.",
        tenant,
        grafts,
      );
  }

  private observeUsage(
    tenantId: string,
    usage: { inputTokens: number; outputTokens: number; cachedInputTokens: number },
  ): void {
    const help = 'Model tokens, as the API bills them.';
    this.inc('graft_model_tokens_total', help, { tenant: tenantId, kind: 'input' }, usage.inputTokens);
    this.inc(
      'graft_model_tokens_total',
      help,
      { tenant: tenantId, kind: 'cached_input' },
      usage.cachedInputTokens,
    );
    this.inc('graft_model_tokens_total', help, { tenant: tenantId, kind: 'output' }, usage.outputTokens);
  }

  private observeReply(
    tenantId: string,
    event: Extract<GraftEvent, { type: 'reply.committed' }>,
    state: ConversationState,
  ): void {
    this.inc('graft_replies_total', 'Replies committed.', { tenant: tenantId, kind: event.kind });
    const last = Math.max(
      ...event.covers.map((id) => state.messageIndex.get(id)?.at ?? Number.NEGATIVE_INFINITY),
    );
    // The bot's latency: a person's reply is counted, but how long a person took is not the bot's.
    if (Number.isFinite(last) && event.kind !== 'operator') {
      const help = "From the last message a bot's reply covers to its commit.";
      this.observeHistogram(
        'graft_reply_latency_seconds',
        help,
        { tenant: tenantId },
        Math.max(0, event.at - last) / 1000,
      );
    }
  }

  /** The metrics in the Prometheus text exposition format (version 0.0.4). */
  render(): string {
    const lines: string[] = [];
    for (const [name, family] of [...this.families].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      for (const [labels, value] of family.values) lines.push(`${name}${labels} ${value}`);
    }
    for (const [name, gauge] of this.gauges)
      lines.push(`# HELP ${name} ${gauge.help}`, `# TYPE ${name} gauge`, `${name} ${gauge.read()}`);
    for (const [name, histogram] of this.histograms) {
      lines.push(`# HELP ${name} ${histogram.help}`, `# TYPE ${name} histogram`);
      for (const [labels, series] of histogram.series) {
        const inner = labels === '' ? '' : `${labels.slice(1, -1)},`;
        histogram.buckets.forEach((le, i) =>
          lines.push(`${name}_bucket{${inner}le="${le}"} ${series.counts[i]}`),
        );
        lines.push(
          `${name}_bucket{${inner}le="+Inf"} ${series.count}`,
          `${name}_sum${labels} ${series.sum}`,
          `${name}_count${labels} ${series.count}`,
        );
      }
    }
    return `${lines.join('\n')}\n`;
  }
}
