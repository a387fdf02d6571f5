// Date header sanity: present, well formed, and close to the time the message arrived.
// Spamware often omits the date, writes impossible time zones, or stamps mail days
// ahead or behind so that it sorts to the top of a mailbox.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { parseMailDate } from '../date.ts';
import { defineRules, hit } from './rules.ts';

export const DATE_RULES = defineRules({
  MISSING_DATE: { score: 1.0, description: 'Message has no Date header' },
  INVALID_DATE: { score: 1.0, description: 'Date header does not follow RFC 5322' },
  MULTIPLE_DATE: { score: 1.0, description: 'Message has more than one Date header' },
  DATE_TZ_ABSURD: { score: 1.5, description: 'Date header has an impossible time zone offset' },
  DATE_IN_FUTURE_03_12: { score: 0.8, description: 'Date is 3 to 12 hours after the message was received' },
  DATE_IN_FUTURE_12_48: { score: 1.2, description: 'Date is 12 to 48 hours after the message was received' },
  DATE_IN_FUTURE_48_XX: { score: 1.5, description: 'Date is more than 48 hours after the message was received' },
  DATE_IN_PAST_96_XX: { score: 0.4, description: 'Date is more than 4 days before the message was received' },
  DATE_IN_PAST_1Y: { score: 0.6, description: 'Date is more than a year before the message was received' },
});

const HOUR = 3_600_000;

export const dateCheck: SpamCheck = {
  name: 'date',
  run(_input, ctx) {
    const out: SpamSymbol[] = [];
    const values = ctx.headers('date');
    if (values.length === 0) return [hit(DATE_RULES, 'MISSING_DATE')];
    if (values.length > 1) out.push(hit(DATE_RULES, 'MULTIPLE_DATE'));
    const p = parseMailDate(values[0]!);
    if (!p.valid) out.push(hit(DATE_RULES, 'INVALID_DATE'));
    if (p.absurdZone) out.push(hit(DATE_RULES, 'DATE_TZ_ABSURD'));
    if (p.date) {
      const diff = p.date.getTime() - ctx.now.getTime();
      if (diff > 48 * HOUR) out.push(hit(DATE_RULES, 'DATE_IN_FUTURE_48_XX'));
      else if (diff > 12 * HOUR) out.push(hit(DATE_RULES, 'DATE_IN_FUTURE_12_48'));
      else if (diff > 3 * HOUR) out.push(hit(DATE_RULES, 'DATE_IN_FUTURE_03_12'));
      else if (diff < -365 * 24 * HOUR) out.push(hit(DATE_RULES, 'DATE_IN_PAST_1Y'));
      else if (diff < -96 * HOUR) out.push(hit(DATE_RULES, 'DATE_IN_PAST_96_XX'));
    }
    return out;
  },
};
