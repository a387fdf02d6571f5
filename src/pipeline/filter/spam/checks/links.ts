// Link checks: text that shows one address while the link goes to another (the
// phishing pattern), links to bare IP addresses, and host names disguised with
// user information or %-escapes.
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { baseDomain, hostShownInText, isIpHost, parseUrl } from '../urls.ts';
import { defineRules, hit } from './rules.ts';

export const LINK_RULES = defineRules({
  // Newsletters send their links through tracking redirectors, so a mismatch alone is weak.
  LINK_TEXT_OTHER_DOMAIN: { score: 0.3, description: 'A link shows one domain in its text but points to another' },
  LINK_TEXT_SPOOFS_LOCAL: { score: 2.5, description: 'A link shows one of our own domains in its text but points elsewhere' },
  URI_NUMERIC_HOST: { score: 1.2, description: 'A link points to a bare IP address instead of a host name' },
  URI_USERINFO: { score: 1.5, description: 'A link hides its real host behind user information (http://trusted.example@other.example/)' },
  URI_ESCAPED_HOST: { score: 1.5, description: 'A link writes its host name with %-escapes' },
});

export const linksCheck: SpamCheck = {
  name: 'links',
  run(_input, ctx) {
    const out: SpamSymbol[] = [];
    let other = false;
    let spoofLocal = false;
    for (const l of ctx.html?.links ?? []) {
      const shown = hostShownInText(l.text);
      if (!shown) continue;
      const u = parseUrl(l.href);
      if (!u || !u.host || (u.scheme !== 'http' && u.scheme !== 'https')) continue;
      if (baseDomain(shown) === baseDomain(u.host)) continue;
      other = true;
      if (ctx.isLocalDomain(shown) && !ctx.isLocalDomain(u.host)) spoofLocal = true;
    }
    if (spoofLocal) out.push(hit(LINK_RULES, 'LINK_TEXT_SPOOFS_LOCAL'));
    else if (other) out.push(hit(LINK_RULES, 'LINK_TEXT_OTHER_DOMAIN'));
    let numeric = false;
    let userinfo = false;
    let escaped = false;
    for (const u of ctx.urls) {
      if (u.scheme !== 'http' && u.scheme !== 'https') continue;
      if (isIpHost(u.host)) numeric = true;
      if (u.userinfo) userinfo = true;
      if (u.escapedHost) escaped = true;
    }
    if (numeric) out.push(hit(LINK_RULES, 'URI_NUMERIC_HOST'));
    if (userinfo) out.push(hit(LINK_RULES, 'URI_USERINFO'));
    if (escaped) out.push(hit(LINK_RULES, 'URI_ESCAPED_HOST'));
    return out;
  },
};
