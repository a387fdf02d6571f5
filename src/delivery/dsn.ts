// RFC 3464 delivery status notifications (bounces, delay warnings, success reports).
//
// Layout, as Postfix writes it:
//   multipart/report; report-type=delivery-status
//     1. text/plain            what happened, in plain English, with the remote reply
//     2. message/delivery-status  machine-readable per-message and per-recipient fields
//     3. text/rfc822-headers   the original headers (default), or message/rfc822 (full)
//
// Every line ends in CRLF and is at most 998 octets: field values from the outside
// (remote replies, addresses) are stripped of line breaks, so a hostile reply cannot
// inject fields, and folded. The message carries Auto-Submitted: auto-replied (RFC 3834)
// so that well-behaved software does not answer it; the caller sends it with the null
// sender (MAIL FROM:<>) so it can never bounce back.
//
// 8-bit content: the first part is UTF-8 (8bit when it has to be). The original headers
// may carry raw 8-bit bytes (RFC 6532 UTF-8 headers, or plain garbage); RFC 6533 would
// have us use message/global-headers for those, but text/rfc822-headers with
// Content-Transfer-Encoding: 8bit is what Postfix does and what every reader handles, so
// we keep it simple and do the same. Non-ASCII recipient addresses in the
// delivery-status part use RFC 6533's 7-bit "utf-8" address type (\x{HEX} escapes), so
// that part stays 7-bit.

import { randomBytes } from 'node:crypto';
import { BareNewlineGuard } from '../smtp/bare-newline-guard.ts';

export type DsnAction = 'failed' | 'delayed' | 'delivered';

export interface DsnRecipient {
  address: string;
  action: DsnAction;
  /** RFC 3463 status, e.g. "5.1.1". */
  status: string;
  /** Host name of the remote MTA that gave the reply. */
  remoteMta?: string;
  /** Typed diagnostic, e.g. "smtp; 550 5.1.1 no such user". */
  diagnosticCode?: string;
  lastAttemptDate?: Date;
  /** For 'delayed': until when we keep trying. */
  willRetryUntil?: Date;
}

export interface DsnInput {
  /** Our host name. */
  reportingMta: string;
  /** The ENVID given with MAIL FROM (RFC 3461), if any. */
  originalEnvelopeId?: string;
  arrivalDate: Date;
  queueId: string;
  /** The notification's sender, e.g. "MAILER-DAEMON@host" or "Mail Delivery System <MAILER-DAEMON@host>". */
  from: string;
  /** The original envelope sender (never empty: no DSN to the null sender). */
  to: string;
  /** The original message, or only its headers. */
  originalMessage: Buffer;
  returnContent: 'headers' | 'full';
  recipients: DsnRecipient[];
  now?: Date;
  /**
   * With returnContent 'full', messages larger than this are returned as headers only
   * (Postfix bounce_size_limit, default 50000 bytes).
   */
  fullContentLimit?: number;
}

const CRLF = '\r\n';
const MAX_LINE = 998;
const FOLD_AT = 78;
const DEFAULT_FULL_LIMIT = 50_000;

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');

/** RFC 5322 date-time in UTC, e.g. "Tue, 07 Jan 2025 09:05:00 +0000". */
export function rfc5322Date(d: Date): string {
  return (
    `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`
  );
}

/**
 * RFC 3463 status for an SMTP reply: the enhanced code when the server sent a valid
 * one (its class forced to agree with the reply code, as Postfix does), otherwise
 * "<class>.0.0". Reply codes outside 2xx/4xx/5xx (or none) count as temporary: 4.0.0.
 */
export function dsnStatusFromReply(code: number, enhanced?: string): string {
  const cls = Math.floor(code / 100);
  const klass = cls === 2 || cls === 4 || cls === 5 ? String(cls) : '4';
  const m = enhanced?.trim().match(/^([245])\.(\d{1,3})\.(\d{1,3})$/);
  if (m) return `${klass}.${Number(m[2])}.${Number(m[3])}`;
  return `${klass}.0.0`;
}

function validStatus(s: string): boolean {
  return /^[245]\.\d{1,3}\.\d{1,3}$/.test(s);
}

/** One line of text: no CR/LF or other control characters (tabs become spaces). */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/[\x00-\x1f\x7f]/g, ' ').replace(/ {2,}/g, ' ').trim();
}

const byteLen = (s: string) => Buffer.byteLength(s, 'utf8');

/** Splits a string into pieces of at most max UTF-8 octets, never inside a character. */
function splitOctets(s: string, max: number): string[] {
  const out: string[] = [];
  let cur = '';
  let curLen = 0;
  for (const ch of s) {
    const n = byteLen(ch);
    if (curLen + n > max && cur) {
      out.push(cur);
      cur = '';
      curLen = 0;
    }
    cur += ch;
    curLen += n;
  }
  if (cur) out.push(cur);
  return out;
}

/**
 * Greedy word wrap: lines of about `width` octets, each prefixed with `indent` after the
 * first (the first gets `first`). A word longer than a line is cut hard so that no line
 * exceeds 998 octets.
 */
function wrap(text: string, width: number, first: string, indent: string): string[] {
  const words = text.split(' ').filter((w) => w.length > 0);
  const lines: string[] = [];
  let line = first;
  let lineLen = byteLen(first);
  let empty = true;
  const hardMax = MAX_LINE - byteLen(indent) - 1;
  for (const word of words) {
    const pieces = byteLen(word) > hardMax ? splitOctets(word, hardMax) : [word];
    for (const piece of pieces) {
      const n = byteLen(piece);
      if (!empty && lineLen + 1 + n > width) {
        lines.push(line);
        line = indent + piece;
        lineLen = byteLen(indent) + n;
      } else if (empty) {
        line += piece;
        lineLen += n;
      } else {
        line += ' ' + piece;
        lineLen += 1 + n;
      }
      empty = false;
    }
  }
  lines.push(line);
  return lines;
}

/** "Name: value" folded at whitespace (continuation lines start with a space). */
function field(name: string, value: string): string {
  return wrap(oneLine(value), FOLD_AT, `${name}: `, ' ').join(CRLF) + CRLF;
}

/** RFC 6533 utf-8-addr-xtext: printable ASCII except "+", "=", "\" as is, the rest \x{HEX}. */
function utf8AddrXtext(addr: string): string {
  let out = '';
  for (const ch of addr) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x21 && cp <= 0x7e && ch !== '+' && ch !== '=' && ch !== '\\') out += ch;
    else out += `\\x{${cp.toString(16).toUpperCase().padStart(2, '0')}}`;
  }
  return out;
}

function addressField(name: string, addr: string): string {
  const a = oneLine(addr);
  return /^[\x20-\x7e]*$/.test(a) ? field(name, `rfc822; ${a}`) : field(name, `utf-8; ${utf8AddrXtext(a)}`);
}

function diagnostic(code: string): string {
  const c = oneLine(code);
  if (/^[A-Za-z][A-Za-z0-9-]*\s*;/.test(c)) return c;
  return /^\d{3}([ -]|$)/.test(c) ? `smtp; ${c}` : `x-local; ${c}`;
}

/** The reply without its diagnostic type, for humans: "smtp; 550 ..." -> "550 ...". */
function diagnosticText(code: string): string {
  return oneLine(code).replace(/^[A-Za-z][A-Za-z0-9-]*\s*;\s*/, '');
}

const STATUS_TEXT: Record<string, string> = {
  '1.0': 'there is a problem with the recipient address',
  '1.1': 'the recipient address does not exist',
  '1.2': 'the recipient domain does not exist or does not accept mail',
  '1.3': 'the recipient address is not valid',
  '1.6': 'the recipient has moved and left no forwarding address',
  '2.0': 'there is a problem with the recipient mailbox',
  '2.1': 'the recipient mailbox is disabled',
  '2.2': 'the recipient mailbox is full',
  '2.3': 'the message is larger than the recipient accepts',
  '3.0': 'the receiving mail system has a problem',
  '3.1': 'the receiving mail system is out of storage',
  '3.4': 'the message is larger than the receiving mail system accepts',
  '4.0': 'there was a network or routing problem',
  '4.1': 'the receiving mail server did not answer',
  '4.2': 'the connection to the receiving mail server failed',
  '4.3': 'a DNS lookup failed',
  '4.4': 'no mail server could be found for the recipient domain',
  '4.6': 'the message was caught in a mail routing loop',
  '4.7': 'the message could not be delivered in time and has expired',
  '5.0': 'the mail servers could not understand each other',
  '6.0': 'the message content was not accepted',
  '7.0': 'the message was refused for security or policy reasons',
  '7.1': 'the receiving mail system refused the message (policy)',
  '7.26': 'the message failed sender authentication checks at the receiving end',
};

function statusText(status: string): string {
  const [cls, subject, detail] = status.split('.');
  const text = STATUS_TEXT[`${subject}.${detail}`] ?? STATUS_TEXT[`${subject}.0`];
  if (text) return text;
  return cls === '5' ? 'the delivery failed permanently' : cls === '4' ? 'the delivery failed temporarily' : 'delivered';
}

function recipientStatus(r: DsnRecipient): string {
  if (validStatus(r.status)) return r.status;
  return r.action === 'failed' ? '5.0.0' : r.action === 'delayed' ? '4.0.0' : '2.0.0';
}

function remoteMtaName(r: DsnRecipient): string | undefined {
  if (!r.remoteMta) return undefined;
  const v = oneLine(r.remoteMta).replace(/^dns\s*;\s*/i, '');
  return v || undefined;
}

function humanPart(input: DsnInput, attached: 'headers' | 'full', truncatedNote: string | null): string {
  const host = oneLine(input.reportingMta);
  const lines: string[] = [];
  const para = (t: string) => {
    lines.push(...wrap(t, 76, '', ''), '');
  };
  const failed = input.recipients.filter((r) => r.action === 'failed');
  const delayed = input.recipients.filter((r) => r.action === 'delayed');
  const delivered = input.recipients.filter((r) => r.action === 'delivered');

  lines.push(`This is the mail system at host ${host}.`, '');
  if (failed.length) {
    para(
      `I'm sorry to have to tell you that your message could not be delivered to ${
        failed.length === 1 ? 'one of its recipients' : `${failed.length} of its recipients`
      }. The mail system has given up on ${failed.length === 1 ? 'that recipient' : 'them'} and will not try again.`,
    );
  }
  if (delayed.length) {
    para(
      `Your message has not yet been delivered to ${delayed.length === 1 ? 'one recipient' : `${delayed.length} recipients`}. ` +
        `This is only a warning: the mail system is still trying, and you do not need to send the message again.`,
    );
  }
  if (delivered.length && !failed.length && !delayed.length) {
    para('Your message was successfully delivered to the recipients listed below, as you asked.');
  }
  para(
    (attached === 'full' ? 'The original message is attached below. ' : 'The headers of the original message are attached below. ') +
      (truncatedNote ? `${truncatedNote} ` : '') +
      `If you need help, contact the postmaster of ${host} and include this report (queue id ${oneLine(input.queueId)}).`,
  );

  const paraIndented = (t: string) => {
    lines.push(...wrap(t, 76, '    ', '      '));
  };
  const describe = (r: DsnRecipient) => {
    const status = recipientStatus(r);
    lines.push(`  <${oneLine(r.address)}>:`);
    const remote = remoteMtaName(r);
    if (r.action !== 'delivered') {
      paraIndented(`Reason: ${statusText(status)} (status ${status}).`);
    } else {
      paraIndented(`Delivered${remote ? ` to ${remote}` : ''} (status ${status}).`);
    }
    if (r.diagnosticCode) {
      const text = diagnosticText(r.diagnosticCode);
      const isSmtp = /^smtp\s*;/i.test(oneLine(r.diagnosticCode));
      if (isSmtp) paraIndented(`The mail server ${remote ?? 'at the other end'} replied: ${text}`);
      else paraIndented(`Error: ${text}`);
    } else if (remote && r.action !== 'delivered') {
      paraIndented(`Last mail server tried: ${remote}.`);
    }
    if (r.lastAttemptDate) paraIndented(`Last attempt: ${rfc5322Date(r.lastAttemptDate)}.`);
    if (r.action === 'delayed' && r.willRetryUntil) paraIndented(`The mail system will keep trying until ${rfc5322Date(r.willRetryUntil)}.`);
    lines.push('');
  };
  if (failed.length) {
    lines.push('Delivery to these recipients failed permanently:', '');
    failed.forEach(describe);
  }
  if (delayed.length) {
    lines.push('Delivery to these recipients is delayed:', '');
    delayed.forEach(describe);
  }
  if (delivered.length) {
    lines.push('Delivery to these recipients succeeded:', '');
    delivered.forEach(describe);
  }
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.join(CRLF) + CRLF;
}

function deliveryStatusPart(input: DsnInput): string {
  let s = field('Reporting-MTA', `dns; ${oneLine(input.reportingMta)}`);
  if (input.originalEnvelopeId) s += field('Original-Envelope-Id', input.originalEnvelopeId);
  s += field('Arrival-Date', rfc5322Date(input.arrivalDate));
  for (const r of input.recipients) {
    s += CRLF;
    s += addressField('Final-Recipient', r.address);
    s += field('Action', r.action);
    s += field('Status', recipientStatus(r));
    const remote = remoteMtaName(r);
    if (remote) s += field('Remote-MTA', `dns; ${remote}`);
    if (r.diagnosticCode) s += field('Diagnostic-Code', diagnostic(r.diagnosticCode));
    if (r.lastAttemptDate) s += field('Last-Attempt-Date', rfc5322Date(r.lastAttemptDate));
    if (r.willRetryUntil && r.action === 'delayed') s += field('Will-Retry-Until', rfc5322Date(r.willRetryUntil));
  }
  return s;
}

/** Offset just past the header section's end (the blank line), or -1 if there is none. */
function headerEnd(buf: Buffer): { headers: number; body: number } | null {
  if (buf[0] === 0x0a) return { headers: 0, body: 1 };
  if (buf[0] === 0x0d && buf[1] === 0x0a) return { headers: 0, body: 2 };
  let pos = 0;
  for (;;) {
    const i = buf.indexOf(0x0a, pos);
    if (i === -1) return null;
    if (buf[i + 1] === 0x0a) return { headers: i + 1, body: i + 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { headers: i + 1, body: i + 3 };
    pos = i + 1;
  }
}

/** Line endings made CRLF (bare CR or LF included) and a final CRLF ensured. */
function toCrlf(buf: Buffer): Buffer {
  const g = new BareNewlineGuard();
  g.push(buf);
  g.finish();
  let out = buf;
  if (g.violation) out = Buffer.from(buf.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
  if (out.length && !(out[out.length - 2] === 0x0d && out[out.length - 1] === 0x0a)) out = Buffer.concat([out, Buffer.from(CRLF)]);
  return out;
}

/** The longest line (without its CRLF), in octets; input must be CRLF-only. */
function longestLine(buf: Buffer): number {
  let max = 0;
  let pos = 0;
  for (;;) {
    const i = buf.indexOf(0x0a, pos);
    const end = i === -1 ? buf.length : i - 1;
    if (end - pos > max) max = end - pos;
    if (i === -1) return max;
    pos = i + 1;
  }
}

/** Header lines longer than 998 octets are folded hard (outside a UTF-8 sequence). */
function foldLongHeaderLines(buf: Buffer): Buffer {
  if (longestLine(buf) <= MAX_LINE) return buf;
  const parts: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    let nl = buf.indexOf(0x0a, pos);
    if (nl === -1) nl = buf.length - 1;
    const line = buf.subarray(pos, nl - 1); // without CRLF
    let start = 0;
    let first = true;
    while (line.length - start > (first ? MAX_LINE : MAX_LINE - 1)) {
      let cut = start + (first ? MAX_LINE : MAX_LINE - 1) - 8;
      while (cut > start + 1 && (line[cut]! & 0xc0) === 0x80) cut--;
      parts.push(first ? Buffer.alloc(0) : Buffer.from(' '), line.subarray(start, cut), Buffer.from(CRLF));
      start = cut;
      first = false;
    }
    parts.push(first ? Buffer.alloc(0) : Buffer.from(' '), line.subarray(start), Buffer.from(CRLF));
    pos = nl + 1;
  }
  return Buffer.concat(parts);
}

const has8bit = (b: Buffer | string) => /[^\x00-\x7f]/.test(typeof b === 'string' ? b : b.toString('latin1'));

function returnedContent(input: DsnInput): { kind: 'headers' | 'full'; body: Buffer; note: string | null } {
  const orig = input.originalMessage;
  if (input.returnContent === 'full') {
    const limit = input.fullContentLimit ?? DEFAULT_FULL_LIMIT;
    if (orig.length > limit) {
      return { ...headersOnly(orig), note: `The message was too large to return in full (${orig.length} bytes), so only its headers are attached.` };
    }
    const full = toCrlf(orig);
    if (longestLine(full) > MAX_LINE || full.includes(0)) {
      return { ...headersOnly(orig), note: 'The message could not be returned in full (it is not valid for mail transport), so only its headers are attached.' };
    }
    return { kind: 'full', body: full, note: null };
  }
  return { ...headersOnly(orig), note: null };
}

function headersOnly(orig: Buffer): { kind: 'headers'; body: Buffer } {
  const end = headerEnd(orig);
  const raw = end ? orig.subarray(0, end.headers) : orig;
  return { kind: 'headers', body: foldLongHeaderLines(toCrlf(raw)) };
}

function newBoundary(avoid: Buffer[]): string {
  for (;;) {
    const b = `=_hermes-dsn-${randomBytes(12).toString('hex')}`;
    if (!avoid.some((a) => a.includes(b))) return b;
  }
}

function subjectFor(recipients: DsnRecipient[]): string {
  if (recipients.some((r) => r.action === 'failed')) return 'Undelivered Mail Returned to Sender';
  if (recipients.some((r) => r.action === 'delayed')) return 'Delayed Mail (still being retried)';
  return 'Successful Mail Delivery Report';
}

export function buildDsn(input: DsnInput): Buffer {
  const to = oneLine(input.to);
  if (!to) throw new Error('buildDsn: no DSN is ever sent to the null sender');
  if (!input.recipients.length) throw new Error('buildDsn: no recipients to report on');
  const now = input.now ?? new Date();
  const host = oneLine(input.reportingMta);

  const returned = returnedContent(input);
  const text = humanPart(input, returned.kind, returned.note);
  const status = deliveryStatusPart(input);
  const boundary = newBoundary([returned.body]);

  const from = oneLine(input.from);
  const fromHeader = from.includes('<') ? from : `Mail Delivery System <${from}>`;
  const stamp = now.toISOString().replace(/[-:TZ.]/g, '').slice(0, 14);
  const messageId = `<${stamp}.${oneLine(input.queueId).replace(/[^A-Za-z0-9._-]/g, '')}.${randomBytes(6).toString('hex')}@${host}>`;

  const text8 = has8bit(text);
  const returned8 = has8bit(returned.body);
  const headers =
    field('From', fromHeader) +
    field('To', `<${to}>`) +
    field('Subject', subjectFor(input.recipients)) +
    field('Date', rfc5322Date(now)) +
    field('Message-ID', messageId) +
    field('MIME-Version', '1.0') +
    field('Auto-Submitted', 'auto-replied') +
    `Content-Type: multipart/report; report-type=delivery-status;${CRLF}\tboundary="${boundary}"${CRLF}` +
    field('Content-Transfer-Encoding', text8 || returned8 || has8bit(to) || has8bit(fromHeader) ? '8bit' : '7bit');

  const head =
    headers +
    CRLF +
    `This is a MIME-encapsulated message.${CRLF}` +
    `${CRLF}--${boundary}${CRLF}` +
    `Content-Description: Notification${CRLF}` +
    `Content-Type: text/plain; charset=utf-8${CRLF}` +
    `Content-Transfer-Encoding: ${text8 ? '8bit' : '7bit'}${CRLF}` +
    CRLF +
    text +
    `${CRLF}--${boundary}${CRLF}` +
    `Content-Description: Delivery report${CRLF}` +
    `Content-Type: message/delivery-status${CRLF}` +
    CRLF +
    status +
    `${CRLF}--${boundary}${CRLF}` +
    (returned.kind === 'full'
      ? `Content-Description: Undelivered Message${CRLF}Content-Type: message/rfc822${CRLF}`
      : `Content-Description: Undelivered Message Headers${CRLF}Content-Type: text/rfc822-headers${CRLF}`) +
    `Content-Transfer-Encoding: ${returned8 ? '8bit' : '7bit'}${CRLF}` +
    CRLF;
  const tail = `${CRLF}--${boundary}--${CRLF}`;
  return Buffer.concat([Buffer.from(head, 'utf8'), returned.body, Buffer.from(tail, 'ascii')]);
}
