// RFC 2047 encoded-word abuse. Encoding plain ASCII hides words from simple filters;
// encoded words inside an address, broken ones, or raw 8-bit bytes in headers come
// from bulk software, not from mail programs people use.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const ENCODED_WORD_RULES = defineRules({
  SUBJ_EXCESS_ENCODED: { score: 1.0, description: 'Subject is RFC 2047-encoded although it is plain ASCII' },
  FROM_EXCESS_ENCODED: { score: 1.0, description: 'From display name is RFC 2047-encoded although it is plain ASCII' },
  ENCODED_WORD_IN_ADDRESS: { score: 1.5, description: 'An RFC 2047 encoded word appears inside an e-mail address' },
  ENCODED_WORD_MALFORMED: { score: 0.5, description: 'Header has a malformed RFC 2047 encoded word (bad charset, encoding or base64)' },
  HEADER_8BIT_INVALID: { score: 0.8, description: 'Subject or From holds raw 8-bit bytes that are not UTF-8 (RFC 2047 not used)' },
  HEADER_8BIT_UTF8: { score: 0.1, description: 'Subject or From holds raw UTF-8 instead of RFC 2047 encoded words' },
});

const EW_RE = /=\?([^?\s]+)\?([^?\s]*)\?([^?\s]*)\?=/g;
const utf8 = new TextDecoder('utf-8', { fatal: true });

interface EwStats {
  count: number;
  malformed: boolean;
  /** Every encoded word decodes to printable ASCII. */
  allAscii: boolean;
}

function decodeWordBytes(enc: string, text: string): Buffer | null {
  if (enc === 'b') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
    return Buffer.from(text, 'base64');
  }
  if (enc === 'q') {
    return Buffer.from(
      text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    );
  }
  return null;
}

const charsets = new Map<string, boolean>();

function charsetKnown(cs: string): boolean {
  const key = cs.split('*')[0]!.toLowerCase();
  let known = charsets.get(key);
  if (known === undefined) {
    try {
      new TextDecoder(key);
      known = true;
    } catch {
      known = false;
    }
    if (charsets.size < 1000) charsets.set(key, known);
  }
  return known;
}

export function encodedWordStats(value: string): EwStats {
  const st: EwStats = { count: 0, malformed: false, allAscii: true };
  EW_RE.lastIndex = 0;
  for (let m = EW_RE.exec(value); m; m = EW_RE.exec(value)) {
    st.count++;
    const enc = m[2]!.toLowerCase();
    const bytes = decodeWordBytes(enc, m[3]!);
    if (!bytes || !charsetKnown(m[1]!)) {
      st.malformed = true;
      st.allAscii = false;
      continue;
    }
    for (const b of bytes) {
      if (b >= 0x80 || (b < 0x20 && b !== 0x09)) {
        st.allAscii = false;
        break;
      }
    }
  }
  if (st.count === 0) st.allAscii = false;
  if (/=\?[^?\s]+\?[bq]\?/i.test(value.replace(EW_RE, ''))) st.malformed = true;
  return st;
}

export const encodedWordsCheck: SpamCheck = {
  name: 'encoded-words',
  run(_input, ctx) {
    const out: SpamSymbol[] = [];
    const subject = ctx.header('subject') ?? '';
    const from = ctx.header('from') ?? '';
    const s = encodedWordStats(subject);
    // The display name is what comes before the angle-bracketed address.
    const lt = from.lastIndexOf('<');
    const fromName = lt >= 0 ? from.slice(0, lt) : from.includes('=?') ? from : '';
    const f = encodedWordStats(fromName);
    if (s.allAscii) out.push(hit(ENCODED_WORD_RULES, 'SUBJ_EXCESS_ENCODED'));
    if (f.allAscii) out.push(hit(ENCODED_WORD_RULES, 'FROM_EXCESS_ENCODED'));
    let malformed = s.malformed || f.malformed;
    for (const name of ['to', 'cc', 'reply-to']) {
      const v = ctx.header(name);
      if (v && v.includes('=?') && encodedWordStats(v).malformed) malformed = true;
    }
    if (malformed) out.push(hit(ENCODED_WORD_RULES, 'ENCODED_WORD_MALFORMED'));
    for (const name of ['from', 'reply-to', 'to']) {
      const v = ctx.header(name);
      if (v && (/<[^>]*=\?[^>]*\?=[^>]*>/.test(v) || /=\?[^?\s]+\?[bq]\?[^?\s]*\?=@/i.test(v))) {
        out.push(hit(ENCODED_WORD_RULES, 'ENCODED_WORD_IN_ADDRESS'));
        break;
      }
    }
    let eightBit: 'none' | 'utf8' | 'invalid' = 'none';
    for (const name of ['subject', 'from']) {
      for (const v of ctx.rawHeaderValues(name)) {
        if (!/[\x80-\xff]/.test(v)) continue;
        try {
          utf8.decode(Buffer.from(v, 'latin1'));
          if (eightBit === 'none') eightBit = 'utf8';
        } catch {
          eightBit = 'invalid';
        }
      }
    }
    if (eightBit === 'invalid') out.push(hit(ENCODED_WORD_RULES, 'HEADER_8BIT_INVALID'));
    else if (eightBit === 'utf8') out.push(hit(ENCODED_WORD_RULES, 'HEADER_8BIT_UTF8'));
    return out;
  },
};
