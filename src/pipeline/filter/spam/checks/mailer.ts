// What the sending program says about itself: priority flags that bulk mailers set to
// get attention, and a mailer name that its own Message-ID format contradicts.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const MAILER_RULES = defineRules({
  PRIORITY_HIGH: { score: 0.3, description: 'Message is flagged as high priority (X-Priority 1-2, X-MSMail-Priority or Importance high)' },
  FORGED_OUTLOOK_MSGID: {
    score: 1.0,
    description: 'X-Mailer claims Microsoft Outlook / Outlook Express but the Message-ID is not in their format',
  },
});

// Outlook and Outlook Express: <hex12$hex8$hex8@host> (optionally with a leading "000001" style counter).
const OUTLOOK_MSGID = /^<[0-9a-f]{12}\$[0-9a-f]{8}\$[0-9a-f]{8}@[^>]+>$/i;

export const mailerCheck: SpamCheck = {
  name: 'mailer',
  run(_input, ctx) {
    const out: SpamSymbol[] = [];
    const xp = ctx.header('x-priority');
    const msp = ctx.header('x-msmail-priority');
    const imp = ctx.header('importance');
    if ((xp && /^\s*[12]\b/.test(xp)) || (msp && /^\s*high/i.test(msp)) || (imp && /^\s*high/i.test(imp))) {
      out.push(hit(MAILER_RULES, 'PRIORITY_HIGH'));
    }
    const mailer = ctx.header('x-mailer') ?? '';
    if (/^Microsoft Outlook(?: Express)? [0-9]/i.test(mailer) || /^Microsoft Outlook, Build/i.test(mailer)) {
      const mid = (ctx.header('message-id') ?? '').trim();
      if (mid && !OUTLOOK_MSGID.test(mid)) out.push(hit(MAILER_RULES, 'FORGED_OUTLOOK_MSGID'));
    }
    return out;
  },
};
