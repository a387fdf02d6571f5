// MIMEEval: what the MIME structure says. The figures come from one walk over every part
// (containers included, as SpamAssassin's find_parts(qr/./)) kept per message.
import type { SaEvalFn } from './types.ts';
import type { SaMessage } from '../message.ts';
import type { SaMimePart } from '../mime.ts';

export interface MimeFigures {
  base64Count: number;
  qpCount: number;
  htmlCount: number;
  textCount: number;
  attachment: number;
  base64EncodedText: boolean;
  badIsoCharset: boolean;
  multipartAlternative: boolean;
  /** text/plain bytes over text/html bytes of the last alternative pair; 1 when none. */
  multipartRatio: number;
  qpLongLine: boolean;
  /** QP-encoded characters that did not need encoding, counted as SpamAssassin does. */
  qpEncoded: number;
  qpBytes: number;
  asciiTextIllegal: number;
  textUnicodeRatio: number;
  base64Length: number;
}

const cache = new WeakMap<SaMessage, MimeFigures>();

function header(p: SaMimePart, name: string): string {
  return p.headers.find((h) => h.name === name)?.value.replace(/\s+/g, ' ').trim() ?? '';
}

export function mimeFigures(m: SaMessage): MimeFigures {
  const known = cache.get(m);
  if (known) return known;
  const f: MimeFigures = {
    base64Count: 0, qpCount: 0, htmlCount: 0, textCount: 0, attachment: 0, base64EncodedText: false, badIsoCharset: false,
    multipartAlternative: false, multipartRatio: 1, qpLongLine: false, qpEncoded: 0, qpBytes: 0, asciiTextIllegal: 0,
    textUnicodeRatio: 0, base64Length: 0,
  };
  const partBytes: (number | undefined)[] = [];
  const partType: string[] = [];
  let normal = 0;
  let unicode = 0;
  for (const p of m.parts) {
    const ctype = p.type;
    const cte = header(p, 'content-transfer-encoding').toLowerCase();
    const cd = header(p, 'content-disposition').toLowerCase();
    const charset = p.charset ?? '';
    if (ctype === 'multipart/alternative') f.multipartAlternative = true;
    if (ctype === 'text/html') f.htmlCount++;
    else if (ctype.startsWith('text')) f.textCount++;
    if (cte.includes('base64')) f.base64Count++;
    else if (cte.includes('quoted-printable')) f.qpCount++;
    if (cd.includes('attachment')) f.attachment++;
    if (
      ctype.startsWith('text') && cte.includes('base64') &&
      (!charset || /(?:us-ascii|ansi_x3\.4-1968|iso-ir-6|ansi_x3\.4-1986|iso_646\.irv:1991|ascii|iso646-us|us|ibm367|cp367|csascii)/.test(charset)) &&
      !/^(?:attachment|inline)/.test(cd)
    ) f.base64EncodedText = true;
    if (/iso-\S+-\S+\b/i.test(charset) && !/iso-(?:8859-\d{1,2}|2022-(?:jp|kr))\b/.test(charset)) f.badIsoCharset = true;
    if (p.children.length) continue;

    const idx = partType.length;
    partType.push(ctype);
    partBytes.push(cd.includes('attachment') ? undefined : 0);
    const lines = p.rawBody.split('\n');
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    for (const l0 of lines) {
      const l = `${l0}\n`;
      if (f.multipartAlternative && !cd.includes('attachment') && (ctype === 'text/plain' || ctype === 'text/html')) partBytes[idx] = (partBytes[idx] ?? 0) + l.length;
      if (cte === 'quoted-printable' && !l.startsWith('SPAM: ')) {
        if (l.length > 79) f.qpLongLine = true;
        f.qpBytes += l.length;
        if (l.includes('=')) {
          const qp = l.match(/=(?:09|3[0-9ABCEF]|[2456][0-9A-F]|7[0-9A-E])/g)?.length ?? 0;
          if (qp) {
            f.qpEncoded += qp;
            const trailing = /((?:=09|=20)+)\s*$/.exec(l);
            if (trailing) f.qpEncoded -= trailing[1]!.length / 3;
          }
        }
      }
      if (ctype === 'text/plain' && (!charset || charset === 'us-ascii') && /[\x00\x0d\x80-\xff]/.test(l)) f.asciiTextIllegal++;
      if (ctype === 'text/plain' && (cte === '' || cte === '7bit' || cte === '8bit')) {
        const subs = l.match(/&#x[0-9A-F]{4};/g)?.length ?? 0;
        normal += l.length - subs * 8;
        unicode += subs;
      }
    }
    if (cte === 'base64' && ctype !== 'application/ics') for (const l of lines) f.base64Length = Math.max(f.base64Length, l.length + 1);
  }
  if (normal) f.textUnicodeRatio = unicode / normal;
  if (f.multipartAlternative) {
    let text: number | undefined;
    let html: number | undefined;
    for (let i = partType.length - 1; i >= 0; i--) {
      if (partBytes[i] === undefined) continue;
      if (html === undefined && partType[i] === 'text/html') html = partBytes[i];
      else if (text === undefined && partType[i] === 'text/plain') text = partBytes[i];
      if (html !== undefined && text !== undefined) break;
    }
    if (text !== undefined && html !== undefined && html > 0) f.multipartRatio = text / html;
  }
  cache.set(m, f);
  return f;
}

const MIME_TESTS: Record<string, (f: MimeFigures) => boolean | number> = {
  mime_base64_count: (f) => f.base64Count,
  mime_base64_encoded_text: (f) => f.base64EncodedText,
  mime_body_html_count: (f) => f.htmlCount,
  mime_body_text_count: (f) => f.textCount,
  mime_faraway_charset: () => false, // ok_locales is "all" by default: no charset is far away
  mime_missing_boundary: () => false,
  mime_multipart_alternative: (f) => f.multipartAlternative,
  mime_qp_count: (f) => f.qpCount,
  mime_qp_long_line: (f) => f.qpLongLine,
  mime_bad_iso_charset: (f) => f.badIsoCharset,
  mime_ascii_text_illegal: (f) => f.asciiTextIllegal,
  mime_attachment: (f) => f.attachment,
  mimepart_limit_exceeded: () => false,
};

/** The top Content-Type says HTML. */
function topIsHtml(m: SaMessage): boolean {
  return /^text\/html/i.test(m.get('Content-Type') ?? '');
}

/** Message parse flags SpamAssassin's parser sets (Message.pm), as far as our parser sees them. */
function parseFlag(m: SaMessage, flag: string): boolean {
  switch (flag) {
    case 'missing_head_body_separator':
      return !/\n\r?\n/.test(m.raw) && m.raw.length > 0 && !/\n$/.test(m.head);
    case 'missing_mime_head_body_separator':
      return false;
    case 'truncated_header':
      return false;
    default:
      return false;
  }
}

export const MIME_EVALS: Record<string, SaEvalFn> = {
  check_for_mime: (m, [test]) => {
    const t = MIME_TESTS[test ?? ''];
    return t ? !!t(mimeFigures(m)) : false;
  },
  check_for_mime_html: (m) => topIsHtml(m) || mimeFigures(m).htmlCount > 0,
  check_for_mime_html_only: (m) => {
    if (topIsHtml(m)) return true;
    const f = mimeFigures(m);
    return f.htmlCount > 0 && f.textCount === 0;
  },
  check_mime_multipart_ratio: (m, [min, max]) => {
    const r = mimeFigures(m).multipartRatio;
    return r >= Number(min) && r < Number(max);
  },
  check_qp_ratio: (m, [min]) => {
    const f = mimeFigures(m);
    return f.qpBytes > 0 && f.qpEncoded / f.qpBytes >= Number(min);
  },
  check_ma_non_text: (m) => {
    for (const alt of m.parts) {
      if (alt.type !== 'multipart/alternative') continue;
      const leaves: SaMimePart[] = [];
      const walk = (p: SaMimePart) => (p.children.length ? p.children.forEach(walk) : leaves.push(p));
      alt.children.forEach(walk);
      for (const p of leaves) {
        if (p.type === 'multipart/related' || p.type === 'application/rtf' || p.type.startsWith('text/')) continue;
        return true;
      }
    }
    return false;
  },
  check_base64_length: (m, [min, max]) => {
    const len = mimeFigures(m).base64Length;
    if (max !== undefined && max !== '' && len > Number(max)) return false;
    return len >= Number(min);
  },
  check_for_ascii_text_illegal: (m) => mimeFigures(m).asciiTextIllegal > 0,
  check_abundant_unicode_ratio: (m, [ratio]) => mimeFigures(m).textUnicodeRatio >= Number(ratio),
  check_for_faraway_charset: () => false,
  check_for_faraway_charset_in_headers: () => false,
  check_msg_parse_flags: (m, [flag]) => parseFlag(m, flag ?? ''),
};
