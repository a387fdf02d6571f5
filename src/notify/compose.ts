// The mails the gateway writes to people: quarantine digests, held-message notices and
// admin notifications. Each is HTML and plain text (multipart/alternative, composed by
// nodemailer's MailComposer), readable without the HTML. Everything that came from a
// message (sender, subject) is escaped in the HTML and has its line breaks removed.
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { randomBytes } from 'node:crypto';

export interface DigestLine {
  sender: string;
  subject: string;
  receivedAt: number;
  category: string;
  score: number | null;
  /** Action links; 'release' asks for a release when `requestOnly`. */
  links: { release: string; delete: string; allow: string; block: string };
  requestOnly: boolean;
}

export interface DigestMail {
  from: string;
  to: string;
  hostname: string;
  lines: DigestLine[];
  /** Held for this recipient and not listed (the digest lists at most so many). */
  more: number;
  signInUrl: string;
  portalUrl: string;
  /** 'digest' lists what was held since the last one; 'notice' is about one message just held. */
  kind: 'digest' | 'notice';
  expiresHours: number;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const oneLine = (s: string) => s.replace(/[\r\n\t]+/g, ' ').trim();
const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
const score = (s: number | null) => (s === null ? '-' : s.toFixed(1));

const CATEGORY_LABEL: Record<string, string> = {
  spam: 'Spam', malware: 'Malware', banned: 'Banned attachment', badheader: 'Bad header', rule: 'Policy rule', auth: 'Failed authentication', malformed: 'Malformed',
};
export const categoryLabel = (c: string) => CATEGORY_LABEL[c] ?? c;

function compose(o: { from: string; to: string; subject: string; text: string; html: string; hostname: string }): Promise<Buffer> {
  const mail = new MailComposer({
    from: o.from,
    to: o.to,
    subject: o.subject,
    text: o.text,
    html: o.html,
    messageId: `<${randomBytes(12).toString('hex')}@${o.hostname}>`,
    date: new Date(),
    // RFC 3834: machines do not answer it; it is not a bounce either.
    headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
  });
  return new Promise((resolve, reject) => mail.compile().build((err, msg) => (err ? reject(err) : resolve(msg))));
}

export function digestSubject(d: Pick<DigestMail, 'kind' | 'lines' | 'more'>): string {
  const n = d.lines.length + d.more;
  if (d.kind === 'notice') return `Held for you: ${oneLine(d.lines[0]?.subject ?? '(no subject)').slice(0, 120)}`;
  return `Quarantine digest: ${n} new message${n === 1 ? '' : 's'} held for you`;
}

export function buildDigestMail(d: DigestMail): Promise<Buffer> {
  const intro =
    d.kind === 'notice'
      ? `This message to ${d.to} was held by the mail gateway and not delivered.`
      : `${d.lines.length + d.more} message${d.lines.length + d.more === 1 ? ' was' : 's were'} held for ${d.to} since your last digest and not delivered.`;
  const help = `Each link asks you to confirm first. Links work once and expire in ${d.expiresHours} hours.`;
  const text = [
    intro,
    help,
    '',
    ...d.lines.flatMap((l, i) => [
      `${i + 1}. ${oneLine(l.subject) || '(no subject)'}`,
      `   From:     ${oneLine(l.sender) || '<>'}`,
      `   Date:     ${when(l.receivedAt)}`,
      `   Category: ${categoryLabel(l.category)}, score ${score(l.score)}`,
      `   ${l.requestOnly ? 'Request release' : 'Release'}: ${l.links.release}`,
      `   Delete:        ${l.links.delete}`,
      `   Always allow:  ${l.links.allow}`,
      `   Block sender:  ${l.links.block}`,
      '',
    ]),
    ...(d.more ? [`... and ${d.more} more: see the portal.`, ''] : []),
    `Sign in to the portal: ${d.signInUrl}`,
    `(or go to ${d.portalUrl})`,
    '',
    '-- ',
    `The mail gateway ${d.hostname}`,
  ].join('\n');
  const button = (href: string, label: string, color: string) =>
    `<a href="${esc(href)}" style="display:inline-block;margin:2px 4px 2px 0;padding:4px 10px;border-radius:4px;background:${color};color:#fff;text-decoration:none;font-size:13px">${esc(label)}</a>`;
  const rows = d.lines
    .map(
      (l) => `<tr>
<td style="padding:8px;border-bottom:1px solid #ddd;vertical-align:top"><strong>${esc(oneLine(l.subject) || '(no subject)')}</strong><br><span style="color:#555">${esc(oneLine(l.sender) || '<>')}</span></td>
<td style="padding:8px;border-bottom:1px solid #ddd;vertical-align:top;white-space:nowrap">${esc(when(l.receivedAt))}</td>
<td style="padding:8px;border-bottom:1px solid #ddd;vertical-align:top">${esc(categoryLabel(l.category))}</td>
<td style="padding:8px;border-bottom:1px solid #ddd;vertical-align:top;text-align:right">${esc(score(l.score))}</td>
<td style="padding:8px;border-bottom:1px solid #ddd;vertical-align:top">${button(l.links.release, l.requestOnly ? 'Request release' : 'Release', '#2563eb')}${button(l.links.delete, 'Delete', '#6b7280')}${button(l.links.allow, 'Always allow', '#15803d')}${button(l.links.block, 'Block sender', '#b91c1c')}</td>
</tr>`,
    )
    .join('\n');
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(digestSubject(d))}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;color:#111;margin:0;padding:16px">
<h2 style="margin:0 0 8px">${d.kind === 'notice' ? 'A message was held for you' : 'Your quarantine digest'}</h2>
<p style="margin:0 0 4px">${esc(intro)}</p>
<p style="margin:0 0 12px;color:#555;font-size:13px">${esc(help)}</p>
<table style="border-collapse:collapse;width:100%;font-size:14px">
<thead><tr><th style="text-align:left;padding:8px;border-bottom:2px solid #333">Message</th><th style="text-align:left;padding:8px;border-bottom:2px solid #333">Date</th><th style="text-align:left;padding:8px;border-bottom:2px solid #333">Category</th><th style="text-align:right;padding:8px;border-bottom:2px solid #333">Score</th><th style="text-align:left;padding:8px;border-bottom:2px solid #333">Actions</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${d.more ? `<p>... and ${d.more} more: see the portal.</p>` : ''}
<p style="margin-top:16px">${button(d.signInUrl, 'Sign in to the portal', '#111827')}</p>
<p style="color:#777;font-size:12px">The mail gateway ${esc(d.hostname)}</p>
</body></html>`;
  return compose({ from: d.from, to: d.to, subject: digestSubject(d), text, html, hostname: d.hostname });
}

/** A short mail to the administrators (or to a user: invitations). */
export function buildPlainMail(o: { from: string; to: string; subject: string; text: string; hostname: string; link?: { href: string; label: string } }): Promise<Buffer> {
  const text = o.link ? `${o.text}\n\n${o.link.label}: ${o.link.href}\n` : `${o.text}\n`;
  const html = `<!doctype html><html><head><meta charset="utf-8"></head><body style="font-family:Arial,Helvetica,sans-serif"><pre style="font-family:inherit;white-space:pre-wrap">${esc(o.text)}</pre>${
    o.link ? `<p><a href="${esc(o.link.href)}">${esc(o.link.label)}</a></p>` : ''
  }</body></html>`;
  return compose({ from: o.from, to: o.to, subject: oneLine(o.subject).slice(0, 200), text, html, hostname: o.hostname });
}
