// Turns the chosen rules into the blocks to insert for one message: placeholders filled
// from its From and Date headers and the sender's fields, HTML wrapped in an element
// whose class marks what it is (so a quoted copy is recognised in replies), inline
// images given Content-IDs unique to this message.
import { randomBytes } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { decodeEncodedWords, getHeader, headerBlock } from '../headers.ts';
import { rfc5322Date } from '../received-header.ts';
import type { BodyRule } from './body-config.ts';
import type { InlineImage, Insertion } from './insertion.ts';
import { escapeHtml, imagesUsed, renderTemplate, type TemplateValues } from './templates.ts';
import { domainOf } from './choose-rules.ts';

export interface Author {
  address: string;
  name: string;
}

/** The first From address and its display name (decoded), from the message's headers. */
export function authorOf(message: Buffer): Author | null {
  const from = getHeader(headerBlock(message), 'From');
  if (!from) return null;
  const list = addressparser(Buffer.from(from, 'latin1').toString('utf8'), { flatten: true });
  const first = list.find((a) => a.address);
  if (!first) return null;
  return { address: first.address.toLowerCase(), name: decodeEncodedWords(first.name ?? '').trim() };
}

/** Plain text from an HTML template, for text/plain parts when the template has no text version. */
function htmlToText(html: string): string {
  return html
    .replace(/<(br|\/p|\/div|\/tr|\/h[1-6]|\/li)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/gi, '&')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function textToHtml(text: string): string {
  return escapeHtml(text).replace(/\r?\n/g, '<br>\r\n');
}

export interface RenderInput {
  message: Buffer;
  envelopeSender: string;
  receivedAt: Date;
  senderFields: Map<string, Record<string, string>>;
}

export function renderInsertion(rule: BodyRule, input: RenderInput): Insertion {
  const author = authorOf(input.message);
  const address = author?.address ?? input.envelopeSender.toLowerCase();
  const tpl = rule.template;
  const used = tpl.html ? imagesUsed(tpl.html) : [];
  const images: InlineImage[] = [];
  const cids: Record<string, string> = {};
  for (const img of tpl.images.filter((i) => used.includes(i.name))) {
    const contentId = `${img.name}.${randomBytes(8).toString('hex')}@hermes`;
    cids[img.name] = contentId;
    images.push({ contentId, contentType: img.contentType, filename: img.filename, data: img.data });
  }
  const values: TemplateValues = {
    sender: { address, name: author?.name ?? '', domain: domainOf(address) },
    date: getHeader(headerBlock(input.message), 'Date') ?? rfc5322Date(input.receivedAt),
    user: input.senderFields.get(address) ?? {},
    images: cids,
  };
  const text = tpl.text !== null ? renderTemplate(tpl.text, values, false) : htmlToText(renderTemplate(tpl.html ?? '', values, true));
  const htmlInner = tpl.html !== null ? renderTemplate(tpl.html, values, true) : textToHtml(text);
  const marker = `hermes-${rule.kind}-${tpl.name.toLowerCase()}`;
  const html = `<div class="hermes-${rule.kind} ${marker}">${htmlInner}</div>`;
  return {
    kind: rule.kind,
    position: rule.kind === 'banner' ? 'top' : 'bottom',
    text,
    html,
    images,
    ...(rule.kind === 'banner' ? {} : { presence: { text: text || htmlToText(htmlInner), marker } }),
  };
}
