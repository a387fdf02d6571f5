// The mail around a password-protected PDF: the short cover mail the recipient gets
// (text and HTML, the PDF attached) in place of the message, and the notice that tells
// the sender the password to pass on. Both are composed by nodemailer's MailComposer.
import { randomInt } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import { contentEntity, field, joinMessage, outerFields, splitMessage } from './mime-parts.ts';

// No 0/O, 1/l/I: read aloud or typed from a phone without mistakes. 20 characters from
// 32 give 100 bits.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** A random password in four groups of five ("k7mq2-..."), about 99 bits. */
export function generatePdfPassword(): string {
  const chars = Array.from({ length: 20 }, () => ALPHABET[randomInt(ALPHABET.length)]!);
  return [0, 5, 10, 15].map((i) => chars.slice(i, i + 5).join('')).join('-');
}

async function build(options: Mail.Options): Promise<Buffer> {
  return new MailComposer(options).compile().build();
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface CoverMailInput {
  /** The message as it would have gone out (its header fields are kept on the cover mail). */
  original: Buffer;
  pdf: Buffer;
  subject: string;
  /** Who the recipient should ask for the password (the sender's address). */
  senderAddress: string;
}

/**
 * The cover mail: the original's header fields (From, To, Subject, Date, Message-ID,
 * trace fields) over a new body that says what the attachment is and how to open it.
 */
export async function buildCoverMail(c: CoverMailInput): Promise<Buffer> {
  const text = [
    `${c.senderAddress} sent you a confidential message. It is attached as a password-protected PDF (message.pdf); its attachments are inside the PDF.`,
    '',
    'Open it with any PDF reader and enter the password the sender gives you by another way (phone, text message). The password is not in this mail.',
    '',
    'Attachments inside the PDF show in your reader\'s attachments panel (the paper clip).',
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<p><strong>${escapeHtml(c.senderAddress)}</strong> sent you a confidential message. It is attached as a password-protected PDF (<code>message.pdf</code>); its attachments are inside the PDF.</p>
<p>Open it with any PDF reader and enter the password the sender gives you by another way (phone, text message). The password is not in this mail.</p>
<p>Attachments inside the PDF show in your reader's attachments panel (the paper clip).</p>
</body></html>`;
  const composed = await build({
    text,
    html,
    attachments: [{ filename: 'message.pdf', content: c.pdf, contentType: 'application/pdf' }],
  });
  const entity = splitMessage(contentEntity(composed));
  return joinMessage([...outerFields(c.original), field('MIME-Version', '1.0'), ...entity.fields], entity.body);
}

export interface PasswordNoticeInput {
  /** The gateway's own address the notice comes from (postmaster@host name). */
  from: string;
  /** The sender of the encrypted message. */
  to: string;
  recipients: string[];
  subject: string;
  password: string;
  /** Message-ID of the encrypted message, for the sender's mail client to thread the notice. */
  messageId: string | null;
  date?: Date;
}

/** The separate mail that gives the sender the password to pass on to the recipients. */
export async function buildPasswordNotice(n: PasswordNoticeInput): Promise<Buffer> {
  const who = n.recipients.join(', ');
  const text = [
    `Your message "${n.subject}" to ${who} was sent encrypted, as a password-protected PDF.`,
    '',
    `Password: ${n.password}`,
    '',
    'Give the recipient this password by another way than e-mail (phone, text message, in person). Without it the PDF cannot be opened; the gateway does not keep it.',
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<p>Your message "${escapeHtml(n.subject)}" to ${escapeHtml(who)} was sent encrypted, as a password-protected PDF.</p>
<p>Password: <code style="font-size:1.2em">${escapeHtml(n.password)}</code></p>
<p>Give the recipient this password by another way than e-mail (phone, text message, in person). Without it the PDF cannot be opened; the gateway does not keep it.</p>
</body></html>`;
  return build({
    from: n.from,
    to: n.to,
    subject: `Password for your encrypted message: ${n.subject}`,
    date: n.date ?? new Date(),
    ...(n.messageId ? { inReplyTo: n.messageId, references: [n.messageId] } : {}),
    // RFC 3834: machine-made, so no auto-replies to it.
    headers: { 'Auto-Submitted': 'auto-generated' },
    text,
    html,
  });
}
