// MIME structure written by bulk software rather than mail programs: quoted-printable
// lines longer than RFC 2045 allows, plain-ASCII text hidden in base64, multiparts
// without a boundary, HTML parts that do not say their character set.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const MIME_RULES = defineRules({
  MIME_QP_LONG_LINE: { score: 0.5, description: 'Quoted-printable line longer than 76 characters (RFC 2045)' },
  MIME_BASE64_TEXT: { score: 1.0, description: 'Plain ASCII text sent base64-encoded (hides the words from simple filters)' },
  MIME_NO_BOUNDARY: { score: 1.0, description: 'Multipart message without a boundary parameter' },
  MIME_HTML_NO_CHARSET: { score: 0.3, description: 'HTML part without a charset parameter' },
});

const MAX_SCAN = 512 * 1024;

export const mimeCheck: SpamCheck = {
  name: 'mime',
  run(input, ctx) {
    const out: SpamSymbol[] = [];
    const parts = ctx.mimeParts;
    const raw = input.raw;
    const text = raw.subarray(0, Math.min(raw.length, MAX_SCAN)).toString('latin1');

    if (parts.some((p) => p.encoding === 'quoted-printable')) {
      // A line carrying QP escapes that is longer than the 76 characters (+ soft break) allowed.
      const re = /^[^\r\n]{79,}$/gm;
      for (let m = re.exec(text); m; m = re.exec(text)) {
        if (/=[0-9A-F]{2}/.test(m[0]) && !/^[A-Za-z-]+:/.test(m[0])) {
          out.push(hit(MIME_RULES, 'MIME_QP_LONG_LINE'));
          break;
        }
      }
    }

    if (parts.some((p) => p.encoding === 'base64' && (p.contentType === 'text/plain' || p.contentType === 'text/html'))) {
      const body = `${input.parsed.text ?? ''}${input.parsed.html ?? ''}`;
      if (body.length > 0 && /^[\x00-\x7f]*$/.test(body.slice(0, 64 * 1024))) out.push(hit(MIME_RULES, 'MIME_BASE64_TEXT'));
    }

    for (const v of ctx.rawHeaderValues('content-type')) {
      if (/^\s*multipart\//i.test(v) && !/boundary\s*=/i.test(v)) {
        out.push(hit(MIME_RULES, 'MIME_NO_BOUNDARY'));
        break;
      }
    }

    if (parts.some((p) => p.contentType === 'text/html' && !p.charset)) out.push(hit(MIME_RULES, 'MIME_HTML_NO_CHARSET'));
    return out;
  },
};
