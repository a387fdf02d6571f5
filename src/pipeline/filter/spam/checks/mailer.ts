// What the sending program says about itself: priority flags that bulk mailers set to
// get attention, and headers that a Microsoft mail program always writes together but
// bulk software imitating one writes only in part (a mailer name that its own
// Message-ID format contradicts, Outlook's priority header without its MIME header, an
// Outlook Express Message-ID with no Microsoft program named). SpamAssassin has the same
// family (FORGED_MUA_OUTLOOK, MISSING_MIMEOLE).
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const MAILER_RULES = defineRules({
  PRIORITY_HIGH: { score: 0.5, description: 'Message is flagged as high priority (X-Priority 1-2, X-MSMail-Priority or Importance high)' },
  FORGED_OUTLOOK_MSGID: {
    score: 1.0,
    description: 'X-Mailer claims Microsoft Outlook / Outlook Express but the Message-ID is not in their format',
  },
  MISSING_MIMEOLE: {
    score: 1.0,
    description: 'Has the X-MSMail-Priority header of Microsoft mail programs but not the X-MimeOLE header they always add',
  },
  MSGID_OUTLOOK_NO_MUA: {
    score: 1.0,
    description: 'Message-ID is in Outlook Express format but no Microsoft mail program is named in the headers',
  },
});

// Outlook and Outlook Express: <hex12$hex8$hex8@host> (optionally with a leading "000001" style counter).
const OUTLOOK_MSGID = /^<[0-9a-f]{12}\$[0-9a-f]{8}\$[0-9a-f]{8}@[^>]+>$/i;
const REWRITTEN_MSGID = /@(?:hotmail|msn|outlook|live)\.com>$/i;
/** X-Mailer or X-MimeOLE naming a Microsoft program. */
const MICROSOFT_MUA = /microsoft|outlook|mimeole/i;

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
    const mimeole = ctx.header('x-mimeole');
    const mid = (ctx.header('message-id') ?? '').trim();
    if (/^Microsoft Outlook(?: Express)? [0-9]/i.test(mailer) || /^Microsoft Outlook, Build/i.test(mailer)) {
      // Hotmail and MSN replace the Message-ID of mail their users send with Outlook
      // Express through them (<OE17Bc...@hotmail.com>, <DAV32l...@hotmail.com>).
      if (mid && !OUTLOOK_MSGID.test(mid) && !REWRITTEN_MSGID.test(mid)) out.push(hit(MAILER_RULES, 'FORGED_OUTLOOK_MSGID'));
    }
    // Other programs that copy the priority header (webmail such as SquirrelMail) name
    // themselves in X-Mailer; only an absent or Microsoft X-Mailer is a contradiction.
    if (ctx.header('x-msmail-priority') !== undefined && mimeole === undefined && (!mailer || MICROSOFT_MUA.test(mailer))) {
      out.push(hit(MAILER_RULES, 'MISSING_MIMEOLE'));
    }
    if (mid && OUTLOOK_MSGID.test(mid) && !MICROSOFT_MUA.test(`${mailer} ${mimeole ?? ''}`)) out.push(hit(MAILER_RULES, 'MSGID_OUTLOOK_NO_MUA'));
    return out;
  },
};
