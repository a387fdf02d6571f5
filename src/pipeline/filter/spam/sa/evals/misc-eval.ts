// FreeMail, URIEval and WLBLEval: free-mail senders (freemail_domains of the rule files),
// links whose text names another scheme, and the welcome and block lists, which are
// empty here: our own allow and block lists (hermes lists) act before the spam stage.
import type { SaEvalFn } from './types.ts';
import type { SaMessage } from '../message.ts';
import type { SaConfig } from '../config.ts';

const wildcardCache = new WeakMap<SaConfig, RegExp | null>();

export function isFreemail(address: string, conf: SaConfig): boolean {
  const email = address.trim().toLowerCase();
  if (!email.includes('@')) return false;
  const domain = email.replace(/.*@/, '');
  if (conf.freemailDomains.has(domain)) return true;
  let re = wildcardCache.get(conf);
  if (re === undefined) {
    const wild = [...conf.freemailDomains].filter((d) => /[*?]/.test(d)).map((d) => d.replace(/\./g, '\\.').replace(/\?/g, '.').replace(/\*/g, '[^.]*'));
    re = wild.length ? new RegExp(`@(?:${wild.join('|')})$`) : null;
    wildcardCache.set(conf, re);
  }
  return !!re && re.test(email);
}

function addrs(m: SaMessage, header: string): string[] {
  return (m.get(`${header}:addr`) ?? '').split('\n').map((a) => a.trim().toLowerCase()).filter(Boolean);
}

function allFromAddrs(m: SaMessage): string[] {
  const resent = m.get('Resent-From:first:addr');
  if (resent) return [resent.trim().toLowerCase()];
  const out: string[] = [];
  for (const h of ['From', 'Envelope-Sender', 'Resent-Sender', 'X-Envelope-From', 'EnvelopeFrom']) for (const a of addrs(m, h)) out.push(a.replace(/\.{2,}/g, '.'));
  return [...new Set(out)];
}

function perlRe(src: string | undefined): RegExp | null {
  if (!src) return null;
  try {
    return new RegExp(src);
  } catch {
    return null;
  }
}

export const MISC_EVALS: Record<string, SaEvalFn> = {
  check_freemail_from: (m, [re], env) => {
    const rx = perlRe(re);
    return allFromAddrs(m).some((a) => isFreemail(a, env.conf) && (!rx || rx.test(a)));
  },
  check_freemail_header: (m, [header, re], env) => {
    if (!header) return false;
    const rx = perlRe(re);
    return addrs(m, header).some((a) => isFreemail(a, env.conf) && (!rx || rx.test(a)));
  },
  check_freemail_replyto: (m, [what0], env) => {
    const what = what0 ?? 'replyto';
    const from = addrs(m, 'From');
    const replyTo = addrs(m, 'Reply-To');
    const fromFm = from.some((a) => isFreemail(a, env.conf));
    const replyFm = replyTo.some((a) => isFreemail(a, env.conf));
    const fromNotInReplyTo = !from.some((f) => replyTo.includes(f));
    // The body comparison (addresses written in the text) is not made: only the headers.
    return fromFm && replyFm && fromNotInReplyTo && (what === 'replyto' || what === 'reply');
  },
  check_https_ip_mismatch: (m) =>
    m.htmlParts.some((h) => h.links.some((l) => /^https?:\/*(?:[^@/]+@)?\d+\.\d+\.\d+\.\d+/i.test(l.href) && !/^https:\/*(?:[^@/]+@)?\d+\.\d+\.\d+\.\d+/i.test(l.text) && /https:/i.test(l.text))),
  check_uri_truncated: () => false,
  // WLBLEval with no lists configured (as with the stock rules): nothing is listed.
  check_from_in_blocklist: () => false,
  check_from_in_welcomelist: () => false,
  check_from_in_default_welcomelist: () => false,
  check_to_in_blocklist: () => false,
  check_to_in_welcomelist: () => false,
  check_to_in_more_spam: () => false,
  check_to_in_all_spam: () => false,
  check_uri_host_in_blocklist: () => false,
  check_uri_host_in_welcomelist: () => false,
  check_subject_in_welcomelist: () => false,
  check_subject_in_blocklist: () => false,
  check_from_in_list: () => false,
  check_replyto_in_list: () => false,
  check_welcomelist_bounce_relays: () => false,
  have_any_bounce_relays: () => false,
};
