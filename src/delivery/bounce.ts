// Queues one RFC 3464 delivery status notification for the recipients of one delivery
// attempt that failed for good. The DSN goes out with the null sender, so it can never
// itself be bounced.
import type { Db } from '../db/database.ts';
import type { PolicySnapshot } from '../smtp/relay-policy.ts';
import type { Acceptor } from '../spool/acceptor.ts';
import { newQueueId } from '../spool/queue-id.ts';
import { traceHeaders } from '../pipeline/headers.ts';
import { buildDsn } from './dsn.ts';
import type { RecipientResult } from './smtp-client.ts';
import type { DeliveryJob } from './scheduler.ts';

export interface BounceInput {
  acceptor: Acceptor;
  policy: PolicySnapshot;
  hostname: string;
  node: number;
  job: DeliveryJob;
  failed: Array<RecipientResult & { expired: boolean }>;
  remote: string | null;
  original: Buffer;
  /** Written in the same commit as the DSN's queue entry (the failed recipients' final status). */
  commitWith?: (db: Db) => Promise<void>;
}

export async function sendBounce(b: BounceInput): Promise<string> {
  const now = new Date();
  const dsn = buildDsn({
    reportingMta: b.hostname,
    arrivalDate: new Date(b.job.receivedAt),
    queueId: b.job.messageId,
    from: `MAILER-DAEMON@${b.hostname}`,
    to: b.job.mailFrom,
    originalMessage: b.original,
    returnContent: b.policy.settings['dsn.returnContent'],
    recipients: b.failed.map((f) => ({
      address: f.address,
      action: 'failed' as const,
      status: f.status.startsWith('5') ? f.status : '5.4.7',
      ...(b.remote ? { remoteMta: b.remote.replace(/\[.*$/, '') } : {}),
      diagnosticCode: /^\d{3}[ -]/.test(f.reply) ? `smtp; ${f.reply}` : `x-local; ${f.reply}`,
      lastAttemptDate: now,
    })),
    now,
  });
  const id = newQueueId();
  const { route, requireTls } = b.policy.routeFor(b.job.mailFrom);
  const { subject, messageId } = traceHeaders(dsn);
  await b.acceptor.accept(
    {
      id,
      receivedAt: now.getTime(),
      node: b.node,
      direction: 'dsn',
      mailFrom: '',
      recipients: [{ address: b.job.mailFrom, route, requireTls }],
      clientIp: null,
      clientHelo: null,
      clientPtr: null,
      tls: null,
      messageId,
      subject,
      parentId: b.job.messageId,
    },
    [dsn],
    [{ message_id: id, at: now.getTime(), type: 'created', recipient: null, detail: JSON.stringify({ dsnFor: b.job.messageId }) }],
    b.commitWith,
  );
  return id;
}
