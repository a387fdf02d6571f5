// Shouting: a subject or body written mostly in capital letters.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const CAPITALS_RULES = defineRules({
  SUBJ_ALL_CAPS: { score: 1.0, description: 'Subject is written entirely in capital letters' },
  BODY_CAPS_50_75: { score: 0.5, description: '50 to 75% of the letters in the body are capitals' },
  BODY_CAPS_75_100: { score: 1.2, description: 'More than 75% of the letters in the body are capitals' },
});

/** Counts upper- and lower-case letters (any script with case). */
export function caseCounts(s: string, limit = s.length): { upper: number; lower: number } {
  let upper = 0;
  let lower = 0;
  const n = Math.min(limit, s.length);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) upper++;
    else if (c >= 97 && c <= 122) lower++;
    else if (c > 0xbf) {
      const ch = s[i]!;
      const lo = ch.toLowerCase();
      const up = ch.toUpperCase();
      if (lo !== up) {
        if (ch === up) upper++;
        else lower++;
      }
    }
  }
  return { upper, lower };
}

export const capitalsCheck: SpamCheck = {
  name: 'capitals',
  run(input, ctx) {
    const out: SpamSymbol[] = [];
    const subject = input.parsed.subject ?? '';
    const s = caseCounts(subject);
    if (s.upper >= 10 && s.lower === 0 && /\S+\s+\S+/.test(subject.trim())) out.push(hit(CAPITALS_RULES, 'SUBJ_ALL_CAPS'));
    // URLs and quoted headers are not prose; drop URLs before counting.
    const text = ctx.text.slice(0, 32 * 1024).replace(/\b(?:https?:\/\/|www\.)\S+/gi, ' ');
    const b = caseCounts(text);
    const total = b.upper + b.lower;
    if (total >= 200) {
      const r = b.upper / total;
      if (r > 0.75) out.push(hit(CAPITALS_RULES, 'BODY_CAPS_75_100'));
      else if (r > 0.5) out.push(hit(CAPITALS_RULES, 'BODY_CAPS_50_75'));
    }
    return out;
  },
};
