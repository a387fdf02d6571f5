// Received chain oddities visible from the headers alone (no DNS): dates out of order
// (forged hops added by the sender), HELO names that are bare IP addresses or not host
// names, impossible IP addresses. (Mail without any Received header is not suspicious
// by itself: bulk and application senders often connect straight to the MX.)
import type { SpamCheck, SpamSymbol } from '../types.ts';
import { parseMailDate } from '../date.ts';
import { defineRules, hit } from './rules.ts';

export const RECEIVED_RULES = defineRules({
  RCVD_DATE_DISORDER: {
    score: 1.0,
    description: 'A Received header is dated more than 12 hours after the hop that received the message from it (forged hop)',
  },
  RCVD_DATE_FUTURE: { score: 1.0, description: 'A Received header is dated more than a day after the message arrived' },
  RCVD_NUMERIC_HELO: { score: 1.0, description: 'A Received hop was greeted with a bare IP address instead of a host name' },
  RCVD_ILLEGAL_IP: { score: 1.5, description: 'A Received header names an IP address that cannot exist on the Internet' },
  RCVD_MALFORMED: { score: 0.1, description: 'A Received header has no readable date' },
  // Mail servers on the Internet greet with their host name; a bare address or a single
  // label comes from spamware and infected PCs (Rspamd's hfilter scores these 3.0 and 2.0).
  HELO_BARE_IP: { score: 1.5, description: 'The SMTP client greeted with a bare IP address (RFC 5321 wants [brackets] or a host name)' },
  HELO_NOT_FQDN: { score: 1.0, description: 'The SMTP client greeted with a name that is not a fully qualified host name' },
  HELO_IS_LOCAL_DOMAIN: { score: 1.5, description: 'The SMTP client greeted with one of our own domains but is not one of our servers' },
});

const HOUR = 3_600_000;
const MAX_HOPS = 20;
const BARE_IP_RE = /^\d{1,3}(?:\.\d{1,3}){3}$/;

function illegalIp(ip: string): boolean {
  const o = ip.split('.').map(Number);
  if (o.length !== 4 || o.some((x) => x > 255)) return true;
  return o[0] === 0 || o[0]! >= 240;
}

export const receivedCheck: SpamCheck = {
  name: 'received',
  run(input, ctx) {
    const out: SpamSymbol[] = [];
    const hops = ctx.headers('received').slice(0, MAX_HOPS);
    const env = input.envelope;
    if (env) {
      const helo = (env.helo ?? '').trim().toLowerCase();
      if (helo) {
        if (BARE_IP_RE.test(helo)) out.push(hit(RECEIVED_RULES, 'HELO_BARE_IP'));
        else if (!helo.startsWith('[') && !/^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.[a-z][a-z0-9-]+$/.test(helo)) out.push(hit(RECEIVED_RULES, 'HELO_NOT_FQDN'));
        else if (ctx.isLocalDomain(helo)) out.push(hit(RECEIVED_RULES, 'HELO_IS_LOCAL_DOMAIN'));
      }
    }
    if (hops.length === 0) return out;

    let numericHelo = false;
    let illegal = false;
    let malformed = false;
    let disorder = false;
    let future = false;
    let newer: number | null = null;
    const nowMs = ctx.now.getTime();
    for (const h of hops) {
      // "from 192.0.2.1 (HELO name)" is qmail writing the client's address before the
      // name it gave, and "with HTTP" hops are webmail naming the browser's address:
      // neither is a HELO.
      const fromM = /^from\s+(\S+)(\s+\(HELO\s)?/i.exec(h);
      if (fromM && BARE_IP_RE.test(fromM[1]!) && !fromM[2] && !/\bwith\s+HTTPS?\b/i.test(h)) numericHelo = true;
      for (const m of h.matchAll(/\[(\d{1,3}(?:\.\d{1,3}){3})\]/g)) {
        if (illegalIp(m[1]!)) illegal = true;
      }
      const semi = h.lastIndexOf(';');
      const p = semi >= 0 ? parseMailDate(h.slice(semi + 1)) : null;
      const t = p?.date?.getTime();
      if (t === undefined || !Number.isFinite(t)) {
        malformed = true;
        continue;
      }
      if (t - nowMs > 24 * HOUR) future = true;
      // Headers are newest first: this hop handed the message to the one above it,
      // so it cannot have received it much later than that one did.
      if (newer !== null && t - newer > 12 * HOUR) disorder = true;
      newer = t;
    }
    if (disorder) out.push(hit(RECEIVED_RULES, 'RCVD_DATE_DISORDER'));
    if (future) out.push(hit(RECEIVED_RULES, 'RCVD_DATE_FUTURE'));
    if (numericHelo) out.push(hit(RECEIVED_RULES, 'RCVD_NUMERIC_HELO'));
    if (illegal) out.push(hit(RECEIVED_RULES, 'RCVD_ILLEGAL_IP'));
    if (malformed) out.push(hit(RECEIVED_RULES, 'RCVD_MALFORMED'));
    return out;
  },
};
