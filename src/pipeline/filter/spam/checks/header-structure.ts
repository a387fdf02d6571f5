// Headers every ordinary message carries exactly once.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const HEADER_STRUCTURE_RULES = defineRules({
  MISSING_SUBJECT: { score: 0.5, description: 'Message has no Subject header' },
  MISSING_TO: { score: 0.5, description: 'Message has no To or Cc header' },
  TO_NO_ADDRESS: { score: 1.0, description: 'To header holds no address and no group (empty or malformed)' },
  DUPLICATE_HEADER: { score: 1.0, description: 'A header that may appear only once (Subject, To, Cc, Reply-To, Sender) appears twice' },
  MISSING_MIME_VERSION: { score: 0.3, description: 'Message uses MIME (Content-Type multipart or an encoding) without MIME-Version' },
});

const UNIQUE = ['subject', 'to', 'cc', 'reply-to', 'sender'];

export const headerStructureCheck: SpamCheck = {
  name: 'header-structure',
  run(_input, ctx) {
    const out: SpamSymbol[] = [];
    if (ctx.headers('subject').length === 0) out.push(hit(HEADER_STRUCTURE_RULES, 'MISSING_SUBJECT'));
    if (ctx.headers('to').length === 0 && ctx.headers('cc').length === 0) out.push(hit(HEADER_STRUCTURE_RULES, 'MISSING_TO'));
    const to = ctx.header('to');
    if (to !== undefined && !/@/.test(to) && !/:\s*;?/.test(to) && !/:;/.test(to)) out.push(hit(HEADER_STRUCTURE_RULES, 'TO_NO_ADDRESS'));
    if (UNIQUE.some((h) => ctx.headers(h).length > 1)) out.push(hit(HEADER_STRUCTURE_RULES, 'DUPLICATE_HEADER'));
    const ct = ctx.header('content-type') ?? '';
    const cte = (ctx.header('content-transfer-encoding') ?? '').toLowerCase();
    if (ctx.headers('mime-version').length === 0 && (/^\s*multipart\//i.test(ct) || cte === 'base64' || cte === 'quoted-printable')) {
      out.push(hit(HEADER_STRUCTURE_RULES, 'MISSING_MIME_VERSION'));
    }
    return out;
  },
};
