// Prometheus metrics of one gateway process (prom-client), served at /metrics. Counters
// are fed from what the gateway records in its trace (the IndexWriter observes every
// message and event it writes), so a metric and the trace never disagree; gauges are read
// from the database and the certificate at scrape time. In a cluster each worker has its
// own registry; the primary gathers them for a scrape (cluster-metrics.ts).
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../../db/database.ts';
import type { NewEvent, NewMessage } from '../../db/schema.ts';
import { queueStats } from '../../db/repos/queue-stats.ts';
import { heldQuarantineCount } from '../../db/repos/quarantine-stats.ts';
import type { Stage } from '../../pipeline/context.ts';
import { shareWithPrimary } from './cluster-metrics.ts';

const DELIVERY_OUTCOMES = new Set(['delivered', 'deferred', 'bounced', 'expired', 'connect-failed']);

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #messages: Counter<'direction' | 'verdict'>;
  readonly #replies: Counter<'code'>;
  readonly #deliveries: Counter<'outcome'>;
  readonly #stageSeconds: Histogram<'stage'>;

  constructor(o: { db: Db; certFile: string; node: number }) {
    const registers = [this.registry];
    shareWithPrimary(this.registry);
    this.registry.setDefaultLabels({ worker: String(o.node) });
    // process_resident_memory_bytes, nodejs_heap_*, nodejs_eventloop_lag_seconds, ...
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    this.#messages = new Counter({ name: 'hermes_messages_total', help: 'Messages received, by direction and verdict (accepted, rejected, quarantined)', labelNames: ['direction', 'verdict'], registers });
    this.#replies = new Counter({ name: 'hermes_smtp_replies_total', help: 'Final replies to DATA, by SMTP code', labelNames: ['code'], registers });
    this.#deliveries = new Counter({ name: 'hermes_deliveries_total', help: 'Delivery attempts, by outcome', labelNames: ['outcome'], registers });
    this.#stageSeconds = new Histogram({ name: 'hermes_stage_duration_seconds', help: 'Time spent in each pipeline stage per message', labelNames: ['stage'], buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15], registers });
    new Gauge({
      name: 'hermes_queue_recipients', help: 'Recipient copies waiting for delivery (queued or deferred)', registers,
      async collect() {
        this.set((await queueStats(o.db)).pendingRecipients);
      },
    });
    new Gauge({
      name: 'hermes_queue_oldest_age_seconds', help: 'Age of the oldest message waiting for delivery (0: empty queue)', registers,
      async collect() {
        const q = await queueStats(o.db);
        this.set(q.oldestReceivedAt === null ? 0 : (Date.now() - q.oldestReceivedAt) / 1000);
      },
    });
    new Gauge({
      name: 'hermes_quarantine_held', help: 'Messages held in the quarantine', registers,
      async collect() {
        this.set(await heldQuarantineCount(o.db));
      },
    });
    new Gauge({
      name: 'hermes_tls_certificate_expiry_seconds', help: 'Seconds until the STARTTLS/HTTPS certificate expires (negative: expired)', registers,
      collect() {
        try {
          this.set((Date.parse(new X509Certificate(readFileSync(o.certFile)).validTo) - Date.now()) / 1000);
        } catch {
          this.reset(); // unreadable: no sample rather than a wrong one
        }
      },
    });
  }

  /** IndexWriter observer: a message record and its first events. */
  observeMessage(msg: NewMessage, events: readonly NewEvent[]): void {
    if (msg.direction === 'dsn') return;
    const rejected = msg.state === 'rejected';
    const verdict = rejected ? 'rejected' : events.some((e) => e.type === 'quarantined') ? 'quarantined' : 'accepted';
    // A message split into copies is recorded once per copy; count the message once.
    if (msg.parent_id === null || msg.parent_id === undefined) {
      this.#messages.inc({ direction: msg.direction, verdict });
      let code = '250';
      if (rejected) {
        const e = events.find((x) => x.type === 'rejected');
        const reply = e?.detail ? (JSON.parse(e.detail) as { reply?: { code?: number } }).reply : undefined;
        code = String(reply?.code ?? 550);
      }
      this.#replies.inc({ code });
    }
  }

  /** IndexWriter observer: a later event (delivery attempts). */
  observeEvent(type: string): void {
    if (DELIVERY_OUTCOMES.has(type)) this.#deliveries.inc({ outcome: type });
  }

  /** The stage, timed into hermes_stage_duration_seconds. */
  timed(stage: Stage): Stage {
    const h = this.#stageSeconds;
    return {
      name: stage.name,
      async run(ctx) {
        const end = h.startTimer({ stage: stage.name });
        try {
          await stage.run(ctx);
        } finally {
          end();
        }
      },
    };
  }
}
