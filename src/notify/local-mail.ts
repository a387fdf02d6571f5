// Mail the gateway writes itself (digests, notices, admin notifications) enters the queue
// the way a message from our own servers would leave it: the per-copy pipeline stages run
// on it as on outbound mail from the relay networks (so it is DKIM-signed with the From
// domain's key, last, over its final bytes), then it is made durable through the release
// queue (the gateway's Acceptor, or the offline spool writer from the CLI) with its trace:
// 'created' (what it is), the stages' events, then 'queued'. Like a DSN it needs no SMTP
// round trip to ourselves, and unlike a DSN it carries a real sender (it may be answered).
import type { Logger } from 'pino';
import type { NewEvent } from '../db/schema.ts';
import type { MessageContext, Stage } from '../pipeline/context.ts';
import { finalMessage } from '../pipeline/pipeline.ts';
import { traceHeaders } from '../pipeline/headers.ts';
import type { PolicySnapshot } from '../smtp/relay-policy.ts';
import type { ReleaseQueue } from '../quarantine/release-queue.ts';
import { newQueueId } from '../spool/queue-id.ts';

export interface LocalMail {
  /** Envelope sender (a real address: replies go to a person or a mailbox). */
  from: string;
  to: string[];
  message: Buffer;
  /** What it is, for the trace: "digest", "notice", "admin-notification", "invitation". */
  kind: string;
  /** More for the 'created' trace event. */
  detail?: Record<string, unknown>;
}

export interface LocalMailerOptions {
  queue: ReleaseQueue;
  /** The stages after the fork (modify, dkim-sign, arc-seal in the gateway). */
  stages: readonly Stage[];
  policy: () => Promise<PolicySnapshot>;
  log: Logger;
}

export class LocalMailer {
  constructor(private readonly o: LocalMailerOptions) {}

  /** Queues the message; resolves with its queue id once it is durable. */
  async send(m: LocalMail): Promise<string> {
    const id = newQueueId();
    const now = new Date();
    const policy = await this.o.policy();
    const recipients = m.to.map((address) => ({ address: address.toLowerCase(), ...policy.routeFor(address.toLowerCase()) }));
    const events: Array<{ type: string; detail: unknown }> = [{ type: 'created', detail: { kind: m.kind, from: m.from, recipients: recipients.map((r) => r.address), ...m.detail } }];
    const ctx: MessageContext = {
      id,
      receivedAt: now,
      // As if from our own servers: outbound, so it is signed like our users' mail.
      client: { ip: '127.0.0.1', helo: null, ptr: null, tls: null, trusted: true },
      direction: 'outbound',
      mailFrom: m.from,
      recipients: recipients.map((r) => ({ address: r.address, route: r.route, requireTls: r.requireTls })),
      original: m.message,
      prepend: [],
      body: m.message,
      reject: null,
      findings: {},
      log: this.o.log,
      trace: (type, detail) => events.push({ type, detail }),
    };
    for (const stage of this.o.stages) {
      await stage.run(ctx);
      if (ctx.reject) throw new Error(`the ${stage.name} stage refused the gateway's own ${m.kind}: ${ctx.reject.code} ${ctx.reject.message}`);
    }
    const bytes = Buffer.concat(finalMessage(ctx));
    const { subject, messageId } = traceHeaders(bytes);
    const at = now.getTime();
    const rows: NewEvent[] = events.map((e) => ({ message_id: id, at, type: e.type, recipient: null, detail: JSON.stringify(e.detail ?? null) }));
    await this.o.queue.enqueue(
      {
        id,
        receivedAt: at,
        node: this.o.queue.node,
        direction: 'outbound',
        mailFrom: m.from,
        recipients: ctx.recipients.map((r) => ({ address: r.address, route: r.route, requireTls: r.requireTls })),
        clientIp: null,
        clientHelo: null,
        clientPtr: null,
        tls: null,
        messageId,
        subject,
        parentId: null,
      },
      bytes,
      rows,
    );
    return id;
  }
}
