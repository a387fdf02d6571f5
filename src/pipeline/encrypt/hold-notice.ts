// The mail that tells a sender why a message was held instead of sent: encryption was
// required (policy 'always' or the subject keyword) and no method could serve the
// recipient. Sent with the null sender so it can never bounce back and forth.
import { randomUUID } from 'node:crypto';
import { traceHeaders } from '../headers.ts';

export interface HoldNoticeInput {
  hostname: string;
  to: string;
  original: Buffer;
  recipients: string[];
  reason: string;
  queueId: string;
  now?: Date;
}

export function holdNotice(n: HoldNoticeInput): Buffer {
  const { subject } = traceHeaders(n.original);
  const now = n.now ?? new Date();
  const text = [
    'Your message was not sent: it has to be encrypted, and no encryption method',
    'is available for some of its recipients. It is held at the gateway; an',
    'administrator can release it once a certificate or key is known for them.',
    '',
    `Subject:    ${subject ?? '(none)'}`,
    `Recipients: ${n.recipients.join(', ')}`,
    `Queue id:   ${n.queueId}`,
    `Why:        ${n.reason}`,
    '',
    'What you can do: ask the recipients for their S/MIME certificate or OpenPGP',
    'key (a signed message from them is enough), or send without the keyword.',
  ].join('\r\n');
  const headers = [
    `From: Mail Delivery System <MAILER-DAEMON@${n.hostname}>`,
    `To: <${n.to}>`,
    `Subject: Held: encryption not possible for ${n.recipients.length === 1 ? n.recipients[0] : `${n.recipients.length} recipients`}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomUUID()}@${n.hostname}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  return Buffer.from(headers.join('\r\n') + '\r\n\r\n' + text + '\r\n', 'utf8');
}
