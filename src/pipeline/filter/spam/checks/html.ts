// HTML body checks: HTML with no text alternative, text hidden from the reader (bayes
// poison, invisible keywords), mail that is little more than an image, and markup tricks
// that split or encode words so filters cannot read them.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const HTML_RULES = defineRules({
  HTML_ONLY: { score: 0.5, description: 'Message has an HTML body and no plain-text alternative' },
  HTML_MIME_NO_HTML_TAG: { score: 1.0, description: 'HTML-only message whose HTML has no <html> element (a fragment written by bulk software)' },
  // Newsletters hide a preview line (the "preheader") the same way; the hidden words
  // themselves go to Bayes apart from the visible ones, which judges what they say.
  HTML_HIDDEN_TEXT: { score: 0.3, description: 'HTML hides text from the reader (display:none, zero size or text coloured like its background)' },
  HTML_IMAGE_ONLY: { score: 1.0, description: 'HTML shows images with almost no text (under 100 letters)' },
  HTML_ENTITY_OBFUSCATION: { score: 1.0, description: 'HTML writes ordinary letters as numeric character references (&#101;) to hide words' },
  HTML_FONT_SIZE_HUGE: { score: 0.5, description: 'HTML uses the largest font sizes (<font size=6/7 or +3 and up>), shouting at the reader' },
  HTML_SPLIT_WORDS: { score: 1.0, description: 'HTML splits words with comments or empty tags (V<!-- -->iagra)' },
  // Forms and scripts are as common in the newsletters of real companies as in spam.
  HTML_FORM: { score: 0.3, description: 'HTML contains a form (asks the reader to type data into the mail)' },
  HTML_SCRIPT: { score: 0.1, description: 'HTML contains scripts, which mail programs do not run' },
});

const HUGE_FONT_RE = /<font\b[^>]*\bsize\s*=\s*["']?\s*(?:\+[3-9]|[6-7])\b/i;

function letters(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c > 0xbf) n++;
  }
  return n;
}

export const htmlCheck: SpamCheck = {
  name: 'html',
  run(input, ctx) {
    const h = ctx.html;
    if (!h) return [];
    const out: SpamSymbol[] = [];
    if (ctx.htmlOnly) {
      out.push(hit(HTML_RULES, 'HTML_ONLY'));
      // Mail programs that send HTML alone write a whole document; a bare fragment comes
      // from scripts (mail programs that send fragments, like webmail, add a text part).
      if (!h.tags.has('html')) out.push(hit(HTML_RULES, 'HTML_MIME_NO_HTML_TAG'));
    }
    const hiddenLetters = letters(h.hiddenText);
    if (hiddenLetters >= 30) out.push(hit(HTML_RULES, 'HTML_HIDDEN_TEXT'));
    const visibleLetters = letters(h.visibleText);
    const plainLetters = input.parsed.text ? letters(input.parsed.text.slice(0, 4000)) : 0;
    if (h.images > 0 && visibleLetters < 100 && plainLetters < 100) out.push(hit(HTML_RULES, 'HTML_IMAGE_ONLY'));
    if (h.numericEntityLetters >= 10 && h.numericEntityLetters >= 0.05 * Math.max(visibleLetters, 1)) {
      out.push(hit(HTML_RULES, 'HTML_ENTITY_OBFUSCATION'));
    }
    if (HUGE_FONT_RE.test(input.parsed.html!.slice(0, 512 * 1024))) out.push(hit(HTML_RULES, 'HTML_FONT_SIZE_HUGE'));
    if (h.splitWords >= 3) out.push(hit(HTML_RULES, 'HTML_SPLIT_WORDS'));
    if (h.forms > 0) out.push(hit(HTML_RULES, 'HTML_FORM'));
    if (h.scripts > 0) out.push(hit(HTML_RULES, 'HTML_SCRIPT'));
    return out;
  },
};
