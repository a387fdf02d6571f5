// A safe rendering of a held message for the console: its text part, or its HTML
// sanitised (sanitize-html) so nothing in it runs or calls home. No scripts, no event
// handlers, no forms, no styles (CSS can fetch remote URLs), only http/https/mailto
// links; remote images are replaced by a placeholder unless the admin asks for them.
import PostalMime from '../pipeline/mime/postal-mime.ts';
import sanitizeHtml from 'sanitize-html';
import type { MessageHeader, MessageRendering } from '../shared/quarantine.ts';

export type { MessageHeader, MessageRendering };

export async function parseHeaders(raw: Buffer): Promise<MessageHeader[]> {
  const email = await PostalMime.parse(raw);
  return email.headers.map((h) => ({ name: h.key, value: h.value }));
}

const ALLOWED_TAGS = [
  'a', 'abbr', 'b', 'blockquote', 'br', 'caption', 'center', 'code', 'col', 'colgroup', 'dd', 'del', 'div', 'dl', 'dt', 'em', 'font', 'h1', 'h2', 'h3',
  'h4', 'h5', 'h6', 'hr', 'i', 'img', 'ins', 'li', 'ol', 'p', 'pre', 'q', 's', 'small', 'span', 'strike', 'strong', 'sub', 'sup', 'table', 'tbody',
  'td', 'tfoot', 'th', 'thead', 'tr', 'u', 'ul',
];

export function sanitizeMessageHtml(html: string, allowRemote: boolean): { html: string; blockedRemote: number } {
  let blockedRemote = 0;
  const out = sanitizeHtml(html, {
    allowedTags: ALLOWED_TAGS,
    // Never style, class or id (styles can load remote content; ids can clash with the console's).
    allowedAttributes: {
      a: ['href', 'title', 'rel', 'target'],
      img: ['src', 'alt', 'title', 'width', 'height'],
      td: ['colspan', 'rowspan', 'align', 'valign'],
      th: ['colspan', 'rowspan', 'align', 'valign'],
      table: ['border', 'cellpadding', 'cellspacing', 'width'],
      font: ['color', 'size'],
      '*': ['align', 'dir', 'lang'],
    },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: allowRemote ? ['http', 'https', 'cid'] : ['cid'] },
    allowProtocolRelative: false,
    disallowedTagsMode: 'discard',
    // script, style, textarea, option and noscript contents are dropped with the tag.
    nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'title', 'head'],
    transformTags: {
      a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: 'noopener noreferrer nofollow', target: '_blank' } }),
      img: (tagName, attribs) => {
        const src = attribs.src ?? '';
        if (!allowRemote && /^\s*(https?:)?\/\//i.test(src)) {
          blockedRemote++;
          return { tagName: 'span', attribs: { title: 'remote image blocked' }, text: `[image blocked${attribs.alt ? `: ${attribs.alt}` : ''}]` };
        }
        return { tagName, attribs };
      },
    },
    allowedClasses: {},
  });
  return { html: out, blockedRemote };
}

export async function renderMessage(raw: Buffer, opts: { allowRemote?: boolean } = {}): Promise<MessageRendering> {
  const email = await PostalMime.parse(raw);
  const attachments = email.attachments.map((a) => ({ filename: a.filename ?? null, mimeType: a.mimeType, size: typeof a.content === 'string' ? a.content.length : a.content.byteLength }));
  if (email.html) {
    const { html, blockedRemote } = sanitizeMessageHtml(email.html, !!opts.allowRemote);
    const text = email.text ?? sanitizeHtml(email.html, { allowedTags: [], allowedAttributes: {} });
    return { kind: 'html', html, text, blockedRemote, attachments };
  }
  return { kind: 'text', html: null, text: email.text ?? '', blockedRemote: 0, attachments };
}
