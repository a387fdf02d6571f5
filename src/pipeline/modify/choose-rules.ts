// Which banner, disclaimer and signature apply to a message, and why not when none does.
// Banners: inbound mail from outside (clients not in the relay networks), per
// recipient relay domain, off unless a rule exists. Disclaimers and signatures: mail
// from our relay networks, per sender address, then sender group, then sender domain
// (a rule for example.com covers its subdomains), then "all"; mail whose recipients
// are all in our relay domains only when the rule says --internal.
import type { BodyKind } from '../../db/repos/body-changes.ts';
import type { BodyConfig, BodyRule, Exemptions } from './body-config.ts';

export interface MessageFacts {
  /** Client in the relay networks (our own servers). */
  fromOurNetwork: boolean;
  clientIp: string;
  /** The author (first From address), lower case; the envelope sender when there is none. */
  sender: string;
  envelopeSender: string;
  recipients: string[];
  relayDomains: { has(domain: string): boolean };
}

export type Choice = { kind: BodyKind; rule: BodyRule } | { kind: BodyKind; reason: string };

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at >= 0 ? address.slice(at + 1).toLowerCase() : '';
}

/** The domain and its parents ("a.b.example.com", "b.example.com", "example.com", "com"). */
function domainAndParents(domain: string): string[] {
  const out: string[] = [];
  for (let d = domain; d; d = d.includes('.') ? d.slice(d.indexOf('.') + 1) : '') out.push(d);
  return out;
}

function exemptionReason(ex: Exemptions, facts: MessageFacts): string | null {
  for (const a of new Set([facts.sender, facts.envelopeSender].filter(Boolean))) {
    if (ex.addresses.has(a)) return `sender ${a} is exempt`;
    const d = domainAndParents(domainOf(a)).find((x) => ex.domains.has(x));
    if (d) return `sender domain ${d} is exempt`;
  }
  if (ex.networks.size && ex.networks.contains(facts.clientIp)) return `client ${facts.clientIp} is in an exempt network`;
  return null;
}

/** The banner rule for the first recipient whose relay domain has one, else a rule for all. */
function bannerRule(config: BodyConfig, recipients: readonly string[]): BodyRule | undefined {
  const rules = config.rules.banner;
  for (const r of recipients) {
    const rule = rules.find((x) => x.scope === 'relay-domain' && x.value === domainOf(r));
    if (rule) return rule;
  }
  return rules.find((x) => x.scope === 'all');
}

/** The banner choice, or null for mail from our own networks that no banner rule covers (nothing worth tracing). */
function chooseBanner(config: BodyConfig, facts: MessageFacts): Choice | null {
  const kind = 'banner';
  const rule = bannerRule(config, facts.recipients);
  if (facts.fromOurNetwork) return rule ? { kind, reason: 'mail from our own networks gets no external-sender banner' } : null;
  if (!rule) return { kind, reason: `no banner rule for the recipient domain(s) ${[...new Set(facts.recipients.map(domainOf))].join(', ')}` };
  const exempt = exemptionReason(config.exemptions.banner, facts);
  return exempt ? { kind, reason: exempt } : { kind, rule };
}

function chooseOutbound(kind: 'disclaimer' | 'signature', config: BodyConfig, facts: MessageFacts): Choice {
  if (!facts.fromOurNetwork) return { kind, reason: `inbound mail gets no ${kind}` };
  const rules = config.rules[kind];
  const sender = facts.sender;
  const domain = domainOf(sender);
  const groups = new Set([...(config.groups.get(sender) ?? []), ...domainAndParents(domain).flatMap((d) => config.groups.get(`*@${d}`) ?? [])]);
  const rule =
    rules.find((r) => r.scope === 'address' && r.value === sender) ??
    rules.find((r) => r.scope === 'group' && groups.has(r.value)) ??
    domainAndParents(domain)
      .map((d) => rules.find((r) => r.scope === 'domain' && r.value === d))
      .find(Boolean) ??
    rules.find((r) => r.scope === 'all');
  if (!rule) return { kind, reason: `no ${kind} rule for sender ${sender || '<>'}` };
  const internal = facts.recipients.length > 0 && facts.recipients.every((r) => facts.relayDomains.has(domainOf(r)));
  if (internal && !rule.internal) return { kind, reason: `internal mail (every recipient is in our relay domains); rule ${rule.id} is not for internal mail` };
  const exempt = exemptionReason(config.exemptions[kind], facts);
  return exempt ? { kind, reason: exempt } : { kind, rule };
}

/**
 * One choice per kind that has rules at all (kinds without any rule are not mentioned,
 * nor a banner for our own mail when no banner rule covers its recipients).
 */
export function chooseChanges(config: BodyConfig, facts: MessageFacts): Choice[] {
  const out: Choice[] = [];
  const banner = config.rules.banner.length ? chooseBanner(config, facts) : null;
  if (banner) out.push(banner);
  if (config.rules.signature.length) out.push(chooseOutbound('signature', config, facts));
  if (config.rules.disclaimer.length) out.push(chooseOutbound('disclaimer', config, facts));
  return out;
}
