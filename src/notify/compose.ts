// The mails the gateway writes to people: quarantine digests, held-message notices and
// admin notifications. Each is HTML and plain text (multipart/alternative, composed by
// nodemailer's MailComposer), readable without the HTML. Everything that came from a
// message (sender, subject) is escaped in the HTML and has its line breaks removed.
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { randomBytes } from 'node:crypto';
import { digestWords, isDigestLanguage } from './digest-text.ts';

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
  /** The recipient's language (digest-text.ts); English when absent or unknown. */
  language?: string | null;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const oneLine = (s: string) => s.replace(/[\r\n\t]+/g, ' ').trim();
const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
const score = (s: number | null) => (s === null ? '-' : s.toFixed(1));

export const categoryLabel = (c: string, language?: string | null) => digestWords(language).categories[c] ?? c;

function compose(o: { from: string; to: string; subject: string; text: string; html: string; hostname: string }): Promise<Buffer> {
  const mail = new MailComposer({
    from: o.from,
    to: o.to,
    subject: o.subject,
    text: o.text,
    html: o.html,
    messageId: `<${randomBytes(12).toString('hex')}@${o.hostname}>`,
    // Said, not guessed: left to choose, nodemailer counts every letter of each part with a
    // global regex to pick one, which was most of the time spent composing a digest.
    textEncoding: 'quoted-printable',
    date: new Date(),
    // RFC 3834: machines do not answer it; it is not a bounce either.
    headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
  });
  return new Promise((resolve, reject) => mail.compile().build((err, msg) => (err ? reject(err) : resolve(msg))));
}

export function digestSubject(d: Pick<DigestMail, 'kind' | 'lines' | 'more' | 'language'>): string {
  const w = digestWords(d.language);
  if (d.kind === 'notice') return w.subjectNotice(oneLine(d.lines[0]?.subject || w.noSubject).slice(0, 120));
  return w.subjectDigest(d.lines.length + d.more);
}

export function buildDigestMail(d: DigestMail): Promise<Buffer> {
  const w = digestWords(d.language);
  const n = d.lines.length + d.more;
  const intro = d.kind === 'notice' ? w.introNotice(d.to) : w.introDigest(n, d.to);
  const help = w.help(d.expiresHours);
  const cat = (c: string) => w.categories[c] ?? c;
  // Labels of the text part line up (the fields, then the links) on the longest in this language.
  const width = (labels: string[]) => Math.max(...labels.map((x) => x.length)) + 2;
  const fields = width([w.from, w.date, w.category]);
  const links = width([w.release, w.requestRelease, w.delete, w.allow, w.block]);
  const pad = (label: string, n = fields) => `${label}:`.padEnd(n);
  const text = [
    intro,
    help,
    '',
    ...d.lines.flatMap((l, i) => [
      `${i + 1}. ${oneLine(l.subject) || w.noSubject}`,
      `   ${pad(w.from)}${oneLine(l.sender) || '<>'}`,
      `   ${pad(w.date)}${when(l.receivedAt)}`,
      `   ${pad(w.category)}${cat(l.category)}, ${w.score} ${score(l.score)}`,
      `   ${pad(l.requestOnly ? w.requestRelease : w.release, links)}${l.links.release}`,
      `   ${pad(w.delete, links)}${l.links.delete}`,
      `   ${pad(w.allow, links)}${l.links.allow}`,
      `   ${pad(w.block, links)}${l.links.block}`,
      '',
    ]),
    ...(d.more ? [w.more(d.more), ''] : []),
    `${w.signIn}: ${d.signInUrl}`,
    w.orGoTo(d.portalUrl),
    '',
    '-- ',
    w.signature(d.hostname),
  ].join('\n');
  const button = (href: string, label: string, color: string) =>
    `<a href="${esc(href)}" style="display:inline-block;margin:2px 4px 2px 0;padding:4px 10px;border-radius:4px;background:${color};color:#fff;text-decoration:none;font-size:13px">${esc(label)}</a>`;
  const rows = d.lines
    .map(
      (l) => `<tr>
<td style="padding:8px;border-bottom:1px solid #ddd;vertical-align:top"><strong>${esc(oneLine(l.subject) || w.noSubject)}</strong><br><span style="color:#555">${esc(oneLine(l.sender) || '<>')}</span></td>
<td style="padding:8px;border-bottom:1px solid #ddd;vertical-align:top;white-space:nowrap">${esc(when(l.receivedAt))}</td>
<td style="padding:8px;border-bottom:1px solid #ddd;vertical-align:top">${esc(cat(l.category))}</td>
<td style="padding:8px;border-bottom:1px solid #ddd;vertical-align:top;text-align:right">${esc(score(l.score))}</td>
<td style="padding:8px;border-bottom:1px solid #ddd;vertical-align:top">${button(l.links.release, l.requestOnly ? w.requestRelease : w.release, '#2563eb')}${button(l.links.delete, w.delete, '#6b7280')}${button(l.links.allow, w.allow, '#15803d')}${button(l.links.block, w.block, '#b91c1c')}</td>
</tr>`,
    )
    .join('\n');
  const th = (label: string, align = 'left') => `<th style="text-align:${align};padding:8px;border-bottom:2px solid #333">${esc(label)}</th>`;
  const lang = isDigestLanguage(d.language) ? d.language : 'en';
  const html = `<!doctype html><html lang="${esc(lang)}"><head><meta charset="utf-8"><title>${esc(digestSubject(d))}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;color:#111;margin:0;padding:16px">
<h2 style="margin:0 0 8px">${esc(d.kind === 'notice' ? w.titleNotice : w.titleDigest)}</h2>
<p style="margin:0 0 4px">${esc(intro)}</p>
<p style="margin:0 0 12px;color:#555;font-size:13px">${esc(help)}</p>
<table style="border-collapse:collapse;width:100%;font-size:14px">
<thead><tr>${th(w.message)}${th(w.date)}${th(w.category)}${th(w.score.charAt(0).toUpperCase() + w.score.slice(1), 'right')}${th(w.actions)}</tr></thead>
<tbody>
${rows}
</tbody></table>
${d.more ? `<p>${esc(w.more(d.more))}</p>` : ''}
<p style="margin-top:16px">${button(d.signInUrl, w.signIn, '#111827')}</p>
<p style="color:#777;font-size:12px">${esc(w.signature(d.hostname))}</p>
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
