// Message-ID sanity: every real mail system writes one, in the <left@right> form.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const MESSAGE_ID_RULES = defineRules({
  MISSING_MID: { score: 0.5, description: 'Message has no Message-ID header' },
  INVALID_MSGID: { score: 0.8, description: 'Message-ID is not of the form <id@domain>' },
  MULTIPLE_MSGID: { score: 1.0, description: 'Message has more than one Message-ID header' },
});

const MSGID_RE = /^<[^<>@\s]+@[^<>@\s]+>$/;

export const messageIdCheck: SpamCheck = {
  name: 'message-id',
  run(_input, ctx) {
    const values = ctx.headers('message-id');
    if (values.length === 0) return [hit(MESSAGE_ID_RULES, 'MISSING_MID')];
    const out: SpamSymbol[] = [];
    if (values.length > 1) out.push(hit(MESSAGE_ID_RULES, 'MULTIPLE_MSGID'));
    // Strip a trailing comment, as some old software adds one.
    const v = values[0]!.replace(/\s*\([^)]*\)\s*$/, '').trim();
    if (!MSGID_RE.test(v)) out.push(hit(MESSAGE_ID_RULES, 'INVALID_MSGID'));
    return out;
  },
};
