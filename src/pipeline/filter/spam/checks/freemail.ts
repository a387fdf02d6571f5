// A From address at one of the large free mail providers, on a message whose trace never
// passed through that provider's servers. Mail written at Hotmail, Yahoo, Gmail or AOL
// leaves through their own outbound servers, which add their Received header (or are the
// SMTP client we talk to); a message that claims such a sender but came from elsewhere
// borrowed the address. SpamAssassin has the same family (FORGED_HOTMAIL_RCVD2,
// FORGED_YAHOO_RCVD, FORGED_GMAIL_RCVD). A DMARC pass proves the address, so it wins.
import type { SpamCheck } from '../types.ts';
import { defineRules, hit } from './rules.ts';

export const FREEMAIL_RULES = defineRules({
  FORGED_FREEMAIL_RCVD: {
    score: 1.0,
    description: "From is at a large free mail provider, but the message never passed through that provider's servers",
  },
});

/** Provider address domains, and the host names its outbound servers use in Received headers. */
const PROVIDERS: readonly { from: RegExp; infra: RegExp }[] = [
  { from: /^(?:hotmail|outlook|live|msn)\.[a-z.]{2,6}$/, infra: /\b(?:hotmail|outlook|msn|live)\.(?:com|net)\b/ },
  { from: /^(?:yahoo|ymail|rocketmail)\.[a-z.]{2,6}$/, infra: /\byahoo(?:groups)?\.(?:com|net|co\.[a-z]{2}|[a-z]{2})\b|\byahoodns\.net\b/ },
  { from: /^(?:gmail|googlemail)\.com$/, infra: /\bgoogle\.com\b|\bgmail\.com\b/ },
  { from: /^aol\.com$/, infra: /\baol\.com\b|\byahoo(?:dns)?\.(?:com|net)\b/ },
];

export const freemailCheck: SpamCheck = {
  name: 'freemail',
  run(input, ctx) {
    const address = input.parsed.from?.address ?? input.parsed.from?.group?.[0]?.address ?? '';
    const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
    if (!domain) return [];
    const provider = PROVIDERS.find((p) => p.from.test(domain));
    if (!provider) return [];
    if (input.auth?.dmarc?.toLowerCase() === 'pass') return [];
    const hops = ctx.headers('received').slice(0, 20);
    const helo = input.envelope?.helo ?? '';
    // Without any trace (an archive copy, a message handed over locally) there is nothing to judge.
    if (hops.length === 0 && !helo) return [];
    const trace = `${hops.join('\n')}\n${helo}`.toLowerCase();
    return provider.infra.test(trace) ? [] : [hit(FREEMAIL_RULES, 'FORGED_FREEMAIL_RCVD')];
  },
};
