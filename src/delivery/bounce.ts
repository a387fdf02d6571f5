// Queues one RFC 3464 delivery status notification for the recipients of one delivery
// attempt that failed for good (or, once, for those still deferred past
// delivery.retry.delayWarningSec). The DSN goes out with the null sender, so it can never
// itself be bounced, and DKIM-signed with the keys of its From domain.
import type { Db } from '../db/database.ts';
import type { PolicySnapshot } from '../smtp/relay-policy.ts';
import type { Acceptor } from '../spool/acceptor.ts';
import { newQueueId } from '../spool/queue-id.ts';
import { traceHeaders } from '../pipeline/headers.ts';
import { buildDsn, type DsnRecipient } from './dsn.ts';
import type { RecipientResult } from './smtp-client.ts';
import type { DeliveryJob } from './scheduler.ts';
import type { OwnSignature } from '../pipeline/sign/sign-own.ts';

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
  /** DKIM-signs the DSN (pipeline/sign/sign-own.ts); absent: it leaves unsigned. */
  sign?: DsnSigner;
}

export type DsnSigner = (message: Buffer) => Promise<{ message: Buffer; signature: OwnSignature }>;

/**
 * The DSN as it leaves: signed when a key of its From domain exists. A DSN that cannot
 * be signed still goes (unsigned, with the reason in its trace): the sender has no way
 * to ask for it again, so losing it would be worse than an unsigned notice.
 */
export async function signedDsn(dsn: Buffer, sign: DsnSigner | undefined): Promise<{ message: Buffer; dkim: OwnSignature | { signed: false; error: string } }> {
  if (!sign) return { message: dsn, dkim: { signed: false, reason: 'no signer' } };
  try {
    const r = await sign(dsn);
    return { message: r.message, dkim: r.signature };
  } catch (err) {
    return { message: dsn, dkim: { signed: false, error: (err as Error).message } };
  }
}

export async function sendBounce(b: BounceInput): Promise<string> {
  const now = new Date();
  return queueDsn(b, now, b.policy.settings['dsn.returnContent'], b.failed.map((f) => ({
    address: f.address,
    action: 'failed' as const,
    status: f.status.startsWith('5') ? f.status : '5.4.7',
    ...(b.remote ? { remoteMta: b.remote.replace(/\[.*$/, '') } : {}),
    diagnosticCode: diagnosticOf(f.reply),
    lastAttemptDate: now,
  })));
}

export interface DelayWarningInput extends Omit<BounceInput, 'failed'> {
  /** The recipients deferred longer than delivery.retry.delayWarningSec, with their last result. */
  delayed: RecipientResult[];
  /** When the gateway gives up on them (the queue lifetime). */
  willRetryUntil: Date;
}

/** Queues the one "delayed" DSN (RFC 3464 Action: delayed) for recipients still being retried; headers only, as Postfix. */
export async function sendDelayWarning(b: DelayWarningInput): Promise<string> {
  const now = new Date();
  return queueDsn(b, now, 'headers', b.delayed.map((r) => ({
    address: r.address,
    action: 'delayed' as const,
    status: r.status.startsWith('4') ? r.status : '4.0.0',
    ...(b.remote ? { remoteMta: b.remote.replace(/\[.*$/, '') } : {}),
    diagnosticCode: diagnosticOf(r.reply),
    lastAttemptDate: now,
    willRetryUntil: b.willRetryUntil,
  })));
}

function diagnosticOf(reply: string): string {
  return /^\d{3}[ -]/.test(reply) ? `smtp; ${reply}` : `x-local; ${reply}`;
}

async function queueDsn(b: Omit<BounceInput, 'failed'>, now: Date, returnContent: 'headers' | 'full', recipients: DsnRecipient[]): Promise<string> {
  const dsn = buildDsn({
    reportingMta: b.hostname,
    arrivalDate: new Date(b.job.receivedAt),
    queueId: b.job.messageId,
    from: `MAILER-DAEMON@${b.hostname}`,
    to: b.job.mailFrom,
    originalMessage: b.original,
    returnContent,
    recipients,
    now,
  });
  const id = newQueueId();
  const { route, requireTls } = b.policy.routeFor(b.job.mailFrom);
  const { subject, messageId } = traceHeaders(dsn);
  const { message, dkim } = await signedDsn(dsn, b.sign);
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
    [message],
    [{ message_id: id, at: now.getTime(), type: 'created', recipient: null, detail: JSON.stringify({ dsnFor: b.job.messageId, action: recipients[0]!.action, dkim }) }],
    b.commitWith,
  );
  return id;
}
