// Headers every ordinary message carries exactly once, and recipient lists that show how
// the message was addressed: to a run of look-alike addresses taken from a harvested,
// sorted list (Rspamd's SUSPICIOUS_RECIPS). (Undisclosed recipients are not suspicious by
// themselves: announcements sent by Bcc use them as RFC 5322 asks.)
import type { SpamCheck, SpamInput, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const HEADER_STRUCTURE_RULES = defineRules({
  MISSING_SUBJECT: { score: 0.5, description: 'Message has no Subject header' },
  MISSING_TO: { score: 0.5, description: 'Message has no To or Cc header' },
  TO_NO_ADDRESS: { score: 1.0, description: 'To header holds no address and no group (empty or malformed)' },
  DUPLICATE_HEADER: { score: 1.0, description: 'A header that may appear only once (Subject, To, Cc, Reply-To, Sender) appears twice' },
  SUSPICIOUS_RECIPS: {
    score: 1.0,
    description: 'Five or more visible recipients whose addresses mostly share their first letters with the one before (a harvested list)',
  },
  MISSING_MIME_VERSION: { score: 0.3, description: 'Message uses MIME (Content-Type multipart or an encoding) without MIME-Version' },
});

const UNIQUE = ['subject', 'to', 'cc', 'reply-to', 'sender'];

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i;
}

/** Recipients in To and Cc, lower case, in order (group members included). */
function recipients(p: SpamInput['parsed']): string[] {
  return [...(p.to ?? []), ...(p.cc ?? [])]
    .flatMap((a) => (a.group ? a.group : [a]))
    .map((a) => (a.address ?? '').toLowerCase())
    .filter(Boolean)
    .slice(0, 200);
}

export const headerStructureCheck: SpamCheck = {
  name: 'header-structure',
  run(input, ctx) {
    const out: SpamSymbol[] = [];
    if (ctx.headers('subject').length === 0) out.push(hit(HEADER_STRUCTURE_RULES, 'MISSING_SUBJECT'));
    if (ctx.headers('to').length === 0 && ctx.headers('cc').length === 0) out.push(hit(HEADER_STRUCTURE_RULES, 'MISSING_TO'));
    const to = ctx.header('to');
    if (to !== undefined && !/@/.test(to) && !/:\s*;?/.test(to) && !/:;/.test(to)) out.push(hit(HEADER_STRUCTURE_RULES, 'TO_NO_ADDRESS'));
    const rcpts = recipients(input.parsed);
    if (rcpts.length >= 5) {
      let alike = 0;
      for (let i = 1; i < rcpts.length; i++) if (commonPrefix(rcpts[i - 1]!, rcpts[i]!) >= 2) alike++;
      if (alike * 2 >= rcpts.length - 1) out.push(hit(HEADER_STRUCTURE_RULES, 'SUSPICIOUS_RECIPS'));
    }
    if (UNIQUE.some((h) => ctx.headers(h).length > 1)) out.push(hit(HEADER_STRUCTURE_RULES, 'DUPLICATE_HEADER'));
    const ct = ctx.header('content-type') ?? '';
    const cte = (ctx.header('content-transfer-encoding') ?? '').toLowerCase();
    if (ctx.headers('mime-version').length === 0 && (/^\s*multipart\//i.test(ct) || cte === 'base64' || cte === 'quoted-printable')) {
      out.push(hit(HEADER_STRUCTURE_RULES, 'MISSING_MIME_VERSION'));
    }
    return out;
  },
};
