// Obfuscated words in the body: look-alike letters from another script inside a Latin
// word, invisible characters inside words, letters spaced out (V.I.A.G.R.A), and digits
// standing in for letters in words spammers are known to disguise (v1agra, c4sino).
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const OBFUSCATION_RULES = defineRules({
  OBFU_MIXED_SCRIPT: { score: 1.5, description: 'Words mix Latin letters with look-alike Cyrillic or Greek ones' },
  OBFU_INVISIBLE_CHARS: { score: 1.0, description: 'Invisible characters (zero-width space, soft hyphen) are placed inside words' },
  OBFU_SPACED_LETTERS: { score: 0.8, description: 'A word is spelled out with a separator between its letters (F.R.E.E, v-i-a-g-r-a)' },
  OBFU_LEET_WORD: { score: 1.5, description: 'Digits or symbols stand in for letters in a word commonly disguised by spammers' },
});

/**
 * Words spammers disguise so that filters miss them (the same idea as SpamAssassin's
 * obfuscation rules). Matched only when written with substituted characters.
 */
const DISGUISED_WORDS = new Set([
  'viagra', 'cialis', 'levitra', 'pharmacy', 'prescription', 'pills', 'meds', 'xanax', 'valium', 'vicodin', 'tramadol',
  'casino', 'poker', 'lottery', 'winner', 'prize', 'jackpot', 'mortgage', 'refinance', 'loan', 'loans', 'credit', 'debt',
  'cash', 'money', 'free', 'income', 'profit', 'investment', 'bitcoin', 'crypto', 'sex', 'sexy', 'porn', 'penis',
  'enlargement', 'erection', 'weight', 'diet', 'rolex', 'replica', 'watches', 'password', 'account', 'verify', 'paypal',
  'bank', 'banking', 'invoice', 'payment', 'urgent', 'offer', 'discount', 'guaranteed', 'click', 'unsubscribe',
]);

const LEET: Record<string, string[]> = {
  '0': ['o'], '1': ['i', 'l'], '3': ['e'], '4': ['a'], '5': ['s'], '7': ['t'], '@': ['a'], $: ['s'], '|': ['i', 'l'], '!': ['i'],
};

function deleet(word: string): string[] {
  let forms = [''];
  for (const ch of word) {
    const subs = LEET[ch];
    if (subs) forms = forms.flatMap((f) => subs.map((s) => f + s));
    else forms = forms.map((f) => f + ch);
    if (forms.length > 16) break;
  }
  return forms;
}

// Cyrillic and Greek letters that look like Latin ones.
const LOOKALIKE = /[\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u03bf\u03b1\u03b5\u039f\u0391\u0392\u0395\u0397\u0399\u039a\u039c\u039d\u03a1\u03a4\u03a7]/;
const MIXED_WORD_RE = /[\p{L}\u200b-\u200d\u2060\ufeff\u00ad]{3,}/gu;
const INVISIBLE_IN_WORD_RE = /\p{L}[\u200b-\u200d\u2060\ufeff\u00ad]+\p{L}/gu;
const SPACED_RE = /(?:^|[^\p{L}\p{N}])(\p{L})([ .\-_*])(?:\p{L}\2){3,}\p{L}(?![\p{L}\p{N}])/gu;
const LEET_RE = /(?:^|[\s"'(])([a-z@$|!][a-z0-9@$|!]{2,13}[a-z0-9$!])(?=$|[\s"'),.;:?])/gi;

export const obfuscationCheck: SpamCheck = {
  name: 'obfuscation',
  run(input, ctx) {
    const out: SpamSymbol[] = [];
    const text = `${input.parsed.subject ?? ''}\n${ctx.text.slice(0, 64 * 1024)}`;

    let mixed = 0;
    if (/[\u0370-\u03ff\u0400-\u04ff]/.test(text)) {
      for (const m of text.matchAll(MIXED_WORD_RE)) {
        const w = m[0];
        if (/[a-zA-Z]/.test(w) && LOOKALIKE.test(w)) {
          // A mostly Latin word with a look-alike inside, not a Cyrillic word with a Latin brand.
          const latin = (w.match(/[a-zA-Z]/g) ?? []).length;
          if (latin * 2 >= w.length && ++mixed >= 2) break;
        }
      }
    }
    if (mixed >= 2) out.push(hit(OBFUSCATION_RULES, 'OBFU_MIXED_SCRIPT'));

    const invisible = text.match(INVISIBLE_IN_WORD_RE)?.length ?? 0;
    if (invisible >= 3) out.push(hit(OBFUSCATION_RULES, 'OBFU_INVISIBLE_CHARS'));

    SPACED_RE.lastIndex = 0;
    if (SPACED_RE.test(text)) out.push(hit(OBFUSCATION_RULES, 'OBFU_SPACED_LETTERS'));

    for (const m of text.matchAll(LEET_RE)) {
      const w = m[1]!.toLowerCase();
      if (!/[0-9@$|!]/.test(w) || !/[a-z].*[a-z]/.test(w)) continue;
      if (/^[a-z]+[!]+$/.test(w)) continue; // "free!" is shouting, not disguise
      const bare = w.replace(/!+$/, '');
      if (deleet(bare).some((f) => DISGUISED_WORDS.has(f))) {
        out.push(hit(OBFUSCATION_RULES, 'OBFU_LEET_WORD'));
        break;
      }
    }
    return out;
  },
};
