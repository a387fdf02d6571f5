import { test } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import { buildDsn, dsnStatusFromReply, rfc5322Date, type DsnInput } from '../../src/delivery/dsn.ts';

const ORIGINAL = Buffer.from(
  'Received: from client.example.org by mx.example.com\r\n' +
    'From: Alice <alice@example.org>\r\n' +
    'To: bob@example.net\r\n' +
    'Subject: Quarterly numbers\r\n' +
    'Message-ID: <orig-1@example.org>\r\n' +
    '\r\n' +
    'SECRET BODY LINE\r\n' +
    'second line\r\n',
);

const NOW = new Date('2025-03-04T05:06:07Z');

function input(over: Partial<DsnInput> = {}): DsnInput {
  return {
    reportingMta: 'gw.example.com',
    arrivalDate: new Date('2025-03-04T05:00:00Z'),
    queueId: 'Q123ABC',
    from: 'MAILER-DAEMON@gw.example.com',
    to: 'alice@example.org',
    originalMessage: ORIGINAL,
    returnContent: 'headers',
    recipients: [
      {
        address: 'bob@example.net',
        action: 'failed',
        status: '5.1.1',
        remoteMta: 'mx.example.net',
        diagnosticCode: 'smtp; 550 5.1.1 <bob@example.net>: no such user',
        lastAttemptDate: NOW,
      },
    ],
    now: NOW,
    ...over,
  };
}

function assertCrlfAndLineLength(buf: Buffer): void {
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a) assert.equal(buf[i - 1], 0x0d, `bare LF at ${i}`);
    if (buf[i] === 0x0d) assert.equal(buf[i + 1], 0x0a, `bare CR at ${i}`);
  }
  assert.ok(buf.subarray(buf.length - 2).equals(Buffer.from('\r\n')), 'ends with CRLF');
  for (const line of buf.toString('latin1').split('\r\n')) assert.ok(line.length <= 998, `line of ${line.length} octets`);
}

function topHeaders(buf: Buffer): Map<string, string> {
  const head = buf.subarray(0, buf.indexOf('\r\n\r\n')).toString('utf8').replace(/\r\n[ \t]+/g, ' ');
  const m = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    m.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  return m;
}

/** Part content as a string; postal-mime hands text back with LF line ends, so make them CRLF again. */
const asText = (c: ArrayBuffer | Uint8Array | string) =>
  (typeof c === 'string' ? c : Buffer.from(c as ArrayBuffer).toString('utf8')).replace(/\r?\n/g, '\r\n');
/** The human-readable part with line wrapping undone. */
const flat = (t: string | undefined) => (t ?? '').replace(/\s+/g, ' ');

test('dsnStatusFromReply', () => {
  assert.equal(dsnStatusFromReply(550), '5.0.0');
  assert.equal(dsnStatusFromReply(550, '5.1.1'), '5.1.1');
  assert.equal(dsnStatusFromReply(451), '4.0.0');
  assert.equal(dsnStatusFromReply(452, '4.2.2'), '4.2.2');
  assert.equal(dsnStatusFromReply(250), '2.0.0');
  assert.equal(dsnStatusFromReply(250, '2.0.0'), '2.0.0');
  assert.equal(dsnStatusFromReply(550, '4.7.1'), '5.7.1', 'class follows the reply code');
  assert.equal(dsnStatusFromReply(550, 'bogus'), '5.0.0');
  assert.equal(dsnStatusFromReply(554, ' 5.7.26 '), '5.7.26');
  assert.equal(dsnStatusFromReply(0), '4.0.0');
  assert.equal(dsnStatusFromReply(354), '4.0.0');
});

test('rfc5322Date', () => {
  assert.equal(rfc5322Date(new Date('2025-01-07T09:05:03Z')), 'Tue, 07 Jan 2025 09:05:03 +0000');
});

test('failed DSN: structure, headers and fields (postal-mime)', async () => {
  const buf = buildDsn(input());
  assertCrlfAndLineLength(buf);
  const h = topHeaders(buf);
  assert.equal(h.get('subject'), 'Undelivered Mail Returned to Sender');
  assert.equal(h.get('from'), 'Mail Delivery System <MAILER-DAEMON@gw.example.com>');
  assert.equal(h.get('to'), '<alice@example.org>');
  assert.equal(h.get('auto-submitted'), 'auto-replied');
  assert.equal(h.get('mime-version'), '1.0');
  assert.equal(h.get('date'), 'Tue, 04 Mar 2025 05:06:07 +0000');
  assert.match(h.get('content-type')!, /^multipart\/report; report-type=delivery-status; boundary="[^"]+"$/);
  assert.match(h.get('message-id')!, /^<[^<>@\s]+@gw\.example\.com>$/);

  const email = await PostalMime.parse(buf);
  assert.equal(email.subject, 'Undelivered Mail Returned to Sender');
  assert.deepEqual(email.to?.[0], { name: '', address: 'alice@example.org' });
  assert.equal((email.from as { address: string }).address, 'MAILER-DAEMON@gw.example.com');
  assert.match(email.messageId ?? '', /@gw\.example\.com>$/);

  // human-readable part
  const text = flat(email.text);
  assert.match(text, /This is the mail system at host gw\.example\.com\./);
  assert.match(text, /could not be delivered/);
  assert.match(text, /<bob@example\.net>/);
  assert.match(text, /the recipient address does not exist/);
  assert.match(text, /mx\.example\.net replied: 550 5\.1\.1 <bob@example\.net>: no such user/);
  assert.match(text, /Q123ABC/);

  // report part and returned headers
  const types = email.attachments.map((a) => a.mimeType);
  assert.deepEqual(types, ['message/delivery-status', 'text/rfc822-headers']);
  const status = asText(email.attachments[0]!.content);
  assert.match(status, /^Reporting-MTA: dns; gw\.example\.com\r\n/);
  assert.match(status, /\r\nArrival-Date: Tue, 04 Mar 2025 05:00:00 \+0000\r\n\r\nFinal-Recipient: rfc822; bob@example\.net\r\n/);
  assert.match(status, /\r\nAction: failed\r\n/);
  assert.match(status, /\r\nStatus: 5\.1\.1\r\n/);
  assert.match(status, /\r\nRemote-MTA: dns; mx\.example\.net\r\n/);
  assert.match(status, /\r\nDiagnostic-Code: smtp; 550 5\.1\.1 <bob@example\.net>: no such user\r\n/);
  assert.match(status, /\r\nLast-Attempt-Date: Tue, 04 Mar 2025 05:06:07 \+0000\r\n/);
  assert.doesNotMatch(status, /Will-Retry-Until/);
  assert.doesNotMatch(status, /Original-Envelope-Id/);

  const returned = asText(email.attachments[1]!.content);
  assert.match(returned, /Subject: Quarterly numbers/);
  assert.match(returned, /Message-ID: <orig-1@example\.org>/);
  // headers-only: the body never leaves
  assert.ok(!buf.includes('SECRET BODY LINE'));
});

test('full mode returns the message as message/rfc822', async () => {
  const buf = buildDsn(input({ returnContent: 'full' }));
  assertCrlfAndLineLength(buf);
  assert.ok(buf.includes('SECRET BODY LINE'));
  assert.match(buf.toString(), /Content-Type: message\/rfc822\r\n/);
  const email = await PostalMime.parse(buf, { rfc822Attachments: true, forceRfc822Attachments: true });
  const att = email.attachments.find((a) => a.mimeType === 'message/rfc822');
  assert.ok(att, 'message/rfc822 part present');
  const inner = await PostalMime.parse(Buffer.from(att.content as ArrayBuffer));
  assert.equal(inner.subject, 'Quarterly numbers');
  assert.match(inner.text ?? '', /SECRET BODY LINE/);
});

test('full mode above the size limit falls back to headers and says so', async () => {
  const big = Buffer.concat([ORIGINAL, Buffer.from(`${'y'.repeat(70)}\r\n`)]);
  const buf = buildDsn(input({ returnContent: 'full', originalMessage: big, fullContentLimit: 100 }));
  assert.ok(!buf.includes('SECRET BODY LINE'));
  assert.match(buf.toString(), /Content-Type: text\/rfc822-headers\r\n/);
  const email = await PostalMime.parse(buf);
  assert.match(flat(email.text), /too large to return in full/);
});

test('delayed DSN: subject, action and Will-Retry-Until', async () => {
  const until = new Date('2025-03-09T05:00:00Z');
  const buf = buildDsn(
    input({
      originalEnvelopeId: 'ENV-42',
      recipients: [
        { address: 'carol@example.net', action: 'delayed', status: '4.4.1', remoteMta: 'mx2.example.net', diagnosticCode: 'x-local; connection timed out', willRetryUntil: until },
      ],
    }),
  );
  assertCrlfAndLineLength(buf);
  const email = await PostalMime.parse(buf);
  assert.equal(email.subject, 'Delayed Mail (still being retried)');
  assert.match(flat(email.text), /not yet been delivered/);
  assert.match(flat(email.text), /do not need to send the message again/);
  assert.match(flat(email.text), /Error: connection timed out/);
  const status = asText(email.attachments[0]!.content);
  assert.match(status, /\r\nOriginal-Envelope-Id: ENV-42\r\n/);
  assert.match(status, /\r\nAction: delayed\r\n/);
  assert.match(status, /\r\nStatus: 4\.4\.1\r\n/);
  assert.match(status, /\r\nDiagnostic-Code: x-local; connection timed out\r\n/);
  assert.match(status, /\r\nWill-Retry-Until: Sun, 09 Mar 2025 05:00:00 \+0000\r\n/);
});

test('several recipients get one block each', async () => {
  const buf = buildDsn(
    input({
      recipients: [
        { address: 'a@example.net', action: 'failed', status: '5.1.1', diagnosticCode: '550 5.1.1 unknown' },
        { address: 'b@example.net', action: 'failed', status: 'garbage', diagnosticCode: 'smtp; 554 rejected' },
        { address: 'c@example.net', action: 'delayed', status: '4.2.2' },
      ],
    }),
  );
  const email = await PostalMime.parse(buf);
  assert.equal(email.subject, 'Undelivered Mail Returned to Sender');
  const status = asText(email.attachments[0]!.content);
  const blocks = status.trimEnd().split('\r\n\r\n');
  assert.equal(blocks.length, 4, 'per-message block + 3 recipient blocks');
  assert.match(blocks[1]!, /Final-Recipient: rfc822; a@example\.net\r\nAction: failed\r\nStatus: 5\.1\.1\r\nDiagnostic-Code: smtp; 550 5\.1\.1 unknown/);
  assert.match(blocks[2]!, /Status: 5\.0\.0/, 'invalid status replaced by the action default');
  assert.match(blocks[3]!, /Action: delayed\r\nStatus: 4\.2\.2/);
  assert.match(flat(email.text), /Delivery to these recipients failed permanently/);
  assert.match(flat(email.text), /Delivery to these recipients is delayed/);
});

test('hostile remote reply cannot inject fields and long lines are folded', async () => {
  const longReply = 'smtp; 550 5.7.1 ' + 'word '.repeat(400) + 'Z'.repeat(2000);
  const buf = buildDsn(
    input({
      recipients: [
        { address: 'bob@example.net', action: 'failed', status: '5.7.1', diagnosticCode: 'smtp; 550 bad\r\nAction: delivered\r\n\r\nFinal-Recipient: rfc822; x@y' },
        { address: 'dave@example.net', action: 'failed', status: '5.7.1', diagnosticCode: longReply },
      ],
    }),
  );
  assertCrlfAndLineLength(buf);
  const email = await PostalMime.parse(buf);
  const status = asText(email.attachments[0]!.content);
  assert.equal(status.match(/^Action:/gm)?.length, 2);
  assert.equal(status.match(/^Action: delivered/gm), null);
  assert.equal(status.match(/^Final-Recipient:/gm)?.length, 2);
  // the folded Diagnostic-Code unfolds back to the reply (folding adds only whitespace)
  const diag = status.split('\r\n\r\n')[2]!.replace(/\r\n /g, ' ').match(/Diagnostic-Code: (.*)/)![1]!;
  assert.equal(diag.replace(/\s+/g, ''), longReply.replace(/\s+/g, ''));
});

test('8-bit original headers and non-ASCII addresses', async () => {
  const orig = Buffer.from('From: Jörg <jörg@bücher.example>\r\nSubject: Grüße\r\n\r\nBody\r\n', 'utf8');
  const buf = buildDsn(
    input({
      to: 'jörg@bücher.example',
      originalMessage: orig,
      recipients: [{ address: 'ñandú@example.net', action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 no' }],
    }),
  );
  assertCrlfAndLineLength(buf);
  const h = topHeaders(buf);
  assert.equal(h.get('content-transfer-encoding'), '8bit');
  assert.match(buf.toString('utf8'), /Content-Type: text\/rfc822-headers\r\nContent-Transfer-Encoding: 8bit\r\n/);
  const email = await PostalMime.parse(buf);
  const status = asText(email.attachments[0]!.content);
  assert.match(status, /Final-Recipient: utf-8; \\x\{F1\}and\\x\{FA\}@example\.net\r\n/);
  assert.ok(!/[^\x00-\x7f]/.test(status), 'delivery-status stays 7-bit');
  assert.match(flat(email.text), /<ñandú@example\.net>/);
  assert.match(asText(email.attachments[1]!.content), /Subject: Grüße/);
});

test('original with bare LFs, header-only input and over-long header lines', async () => {
  const lf = Buffer.from('Subject: lf only\nX-A: 1\n\nbody\n');
  const b1 = buildDsn(input({ originalMessage: lf }));
  assertCrlfAndLineLength(b1);
  assert.ok(!b1.includes('body\r\n'));
  assert.match(b1.toString(), /Subject: lf only\r\nX-A: 1\r\n/);

  const headersOnly = Buffer.from('Subject: only headers\r\nX-B: 2');
  const b2 = buildDsn(input({ originalMessage: headersOnly }));
  assertCrlfAndLineLength(b2);
  assert.match(b2.toString(), /X-B: 2\r\n/);

  const longHeader = Buffer.from(`X-Long: ${'a'.repeat(3000)}\r\nSubject: s\r\n\r\nbody\r\n`);
  const b3 = buildDsn(input({ originalMessage: longHeader }));
  assertCrlfAndLineLength(b3);
  const email = await PostalMime.parse(b3);
  assert.equal(asText(email.attachments[1]!.content).replace(/\r\n /g, '').match(/a+/)![0].length, 3000);

  // full mode with a body line too long for transport falls back to headers
  const longBody = Buffer.from(`Subject: s\r\n\r\n${'b'.repeat(2000)}\r\n`);
  const b4 = buildDsn(input({ originalMessage: longBody, returnContent: 'full' }));
  assertCrlfAndLineLength(b4);
  assert.match(b4.toString(), /Content-Type: text\/rfc822-headers/);
});

test('unique Message-IDs; refuses the null sender', () => {
  const ids = new Set(Array.from({ length: 50 }, () => topHeaders(buildDsn(input())).get('message-id')));
  assert.equal(ids.size, 50);
  assert.throws(() => buildDsn(input({ to: '' })), /null sender/);
  assert.throws(() => buildDsn(input({ recipients: [] })), /no recipients/);
});

test('an explicit display From is kept; boundary does not occur in the content', () => {
  const buf = buildDsn(input({ from: 'Postmaster <postmaster@gw.example.com>', returnContent: 'full' }));
  const h = topHeaders(buf);
  assert.equal(h.get('from'), 'Postmaster <postmaster@gw.example.com>');
  const boundary = h.get('content-type')!.match(/boundary="([^"]+)"/)![1]!;
  const s = buf.toString();
  assert.equal(s.split(`--${boundary}`).length - 1, 4, 'three parts + closing delimiter');
  assert.ok(s.endsWith(`\r\n--${boundary}--\r\n`));
});
