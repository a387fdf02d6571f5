// %{d} in an SPF record reached through include: or redirect=.
//
// Corrects mailauth 4.9.5 (lib/spf/macro.js): its macro() expands %{d} (and %{o},
// %{p}) to the domain of the MAIL FROM address, for every record it evaluates. RFC
// 7208 section 7.3 defines d as "<domain>", the domain argument of the check_host()
// being evaluated, which section 5.2 (include:) and 6.1 (redirect=) change to the
// target domain; only o stays the sender's domain. With the RFC 7208 Appendix D.5
// DNSBL-style record (include:mobile-users._spf.example.com whose record is
// "v=spf1 exists:%{l1r+}.%{d}"), mailauth checks <local>.example.com instead of
// <local>.mobile-users._spf.example.com, so a wildcard A record under the sender's
// domain makes every client pass.
//
// mailauth's SPF evaluator takes a resolver, and the only TXT lookups it makes are
// the records of the domains it evaluates (RFC 7208 4.4), the domain being checked
// being exactly the queried name. So this resolver wrapper expands %{d...} in an SPF
// record against the name it was fetched for, before mailauth sees it; mailauth
// expands every other macro as before. The top-level record is left as published
// (there mailauth's %{d} is already right, and Received-SPF shows the record as is).
// Upstream fix: docs/upstream-mailauth.md; test/unit/auth-mailauth-upstream.test.ts
// tells when an upgraded mailauth no longer needs this.

type Resolver = (name: string, rrtype: string) => Promise<unknown>;

const norm = (name: string): string => name.trim().toLowerCase().replace(/\.$/, '');

/** RFC 7208 7.3 transformers (digits, "r", delimiters) applied to one value, as mailauth does. */
function transform(value: string, spec: string): string {
  const m = /^(\d*)(r?)([.\-+,/_=]*)$/i.exec(spec);
  if (!m) return value;
  const count = m[1] ? Number(m[1]) : 0;
  const reversed = !!m[2];
  const delimiters = m[3] || '.';
  if (!count && !reversed && delimiters === '.') return value;
  let parts = value.split(new RegExp(`[${delimiters.replace(/[.*+?^${}()|[\]\\\-]/g, '\\$&')}]`));
  if (reversed) parts = parts.reverse();
  if (count > 0) parts = parts.slice(-count);
  return parts.join('.');
}

/** The record with every %{d...} expanded against `domain`; all other text untouched. */
export function expandDomainMacro(record: string, domain: string): string {
  return record.replace(/%%|%_|%-|%\{([^}]*)\}/g, (whole, body: string | undefined) => {
    if (body === undefined || !/^d/i.test(body)) return whole;
    return transform(domain, body.slice(1));
  });
}

/**
 * Wraps the SPF resolver for one check_host() whose top-level domain is `topDomain`:
 * SPF records of any other domain (include:/redirect= targets) get %{d} expanded
 * against their own name.
 */
export function spfIncludeMacroResolver(resolver: Resolver, topDomain: string): Resolver {
  const top = norm(topDomain);
  return async (name, rrtype) => {
    const answer = await resolver(name, rrtype);
    if (rrtype !== 'TXT' || norm(name) === top || !Array.isArray(answer)) return answer;
    return answer.map((rr: unknown) => {
      const text = Array.isArray(rr) ? rr.join('') : String(rr);
      if (!/^\s*v=spf1(\s|$)/i.test(text) || !/%\{d/i.test(text)) return rr;
      return [expandDomainMacro(text, name.replace(/\.$/, ''))];
    });
  };
}
