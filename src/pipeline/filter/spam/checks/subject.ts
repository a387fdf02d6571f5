// The shape of the Subject line. Bulk software pads subjects with a long run of spaces,
// usually followed by a random id, so that each copy differs (to slip past checksum and
// duplicate filters) while the reader sees only the words before the gap. Mail programs
// never write such runs: people do not type them, and folding a long header inserts one
// line break, which is read as a single space.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const SUBJECT_RULES = defineRules({
  SUBJ_PADDED: { score: 1.0, description: 'Subject holds a run of six or more spaces (padding before a random id)' },
});

const SUBJECT_RE = /^subject[ \t]*:(.*(?:\r?\n[ \t].*)*)/im;
const PADDING_RE = /\S[ \t\u00a0]{6,}\S/;

export const subjectCheck: SpamCheck = {
  name: 'subject',
  run(input, ctx) {
    const out: SpamSymbol[] = [];
    // The raw header (postal-mime collapses white space outside encoded words), unfolded;
    // and the decoded subject, for padding inside encoded words.
    const raw = (SUBJECT_RE.exec(ctx.headerBlock)?.[1] ?? '').slice(0, 1000).replace(/\r?\n[ \t]+/g, ' ');
    if (PADDING_RE.test(raw) || PADDING_RE.test((input.parsed.subject ?? '').slice(0, 1000))) out.push(hit(SUBJECT_RULES, 'SUBJ_PADDED'));
    return out;
  },
};
