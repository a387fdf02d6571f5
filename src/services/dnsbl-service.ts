// DNS blocklists: the zones in use (client IPs and linked domains), which refuse clients
// in the session, and asking them about an address or domain now. Zones are settings
// (dnsbl.*), validated by the settings layer; this is the blocklists' view of them.
import { isIP } from 'node:net';
import { loadSettings, setSettings } from '../config/settings.ts';
import type { Db } from '../db/database.ts';
import { inTransaction } from '../db/transaction.ts';
import { DnsResolver } from '../dns/resolver.ts';
import { ipQueryPrefix, lookupLists } from '../pipeline/filter/dnsbl/lookup.ts';
import { registeredDomain } from '../pipeline/filter/dnsbl/uri-domains.ts';
import type { DnsListZone } from '../pipeline/filter/dnsbl/zones.ts';
import { assertCan, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { repo } from './repo-errors.ts';
import { ServiceError } from './service-error.ts';

export interface DnsblConfig {
  enabled: boolean;
  /** Time budget for all lookups of one message. */
  budgetMs: number;
  maxUriDomains: number;
  ipZones: DnsListZone[];
  uriZones: DnsListZone[];
  /** Client-IP zones whose listing refuses the client in the session (554 5.7.1). */
  rejectZones: string[];
}

async function current(db: Db): Promise<DnsblConfig> {
  const s = await loadSettings(db);
  return {
    enabled: !!s['dnsbl.enabled'],
    budgetMs: s['dnsbl.budgetMs'],
    maxUriDomains: s['dnsbl.maxUriDomains'],
    ipZones: s['dnsbl.ipZones'],
    uriZones: s['dnsbl.uriZones'],
    rejectZones: s['dnsbl.rejectZones'],
  };
}

export async function getDnsbl(db: Db, actor: Actor): Promise<DnsblConfig> {
  assertCan(actor, 'dnsbl.read');
  return current(db);
}

const SETTING: Record<keyof DnsblConfig, string> = {
  enabled: 'dnsbl.enabled',
  budgetMs: 'dnsbl.budgetMs',
  maxUriDomains: 'dnsbl.maxUriDomains',
  ipZones: 'dnsbl.ipZones',
  uriZones: 'dnsbl.uriZones',
  rejectZones: 'dnsbl.rejectZones',
};

/** Changes some of the blocklist settings at once (a running gateway sees all of them or none). */
export async function updateDnsbl(db: Db, actor: Actor, patch: Partial<DnsblConfig>): Promise<DnsblConfig> {
  assertCan(actor, 'dnsbl.write');
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    const key = SETTING[k as keyof DnsblConfig];
    if (!key) throw new ServiceError('invalid', `unknown blocklist setting "${k}"`, { [k]: 'unknown field' });
    if (v !== undefined) values[key] = k === 'rejectZones' && Array.isArray(v) ? v.map((z) => String(z).toLowerCase()) : v;
  }
  if (!Object.keys(values).length) throw new ServiceError('invalid', 'nothing to change: give at least one field');
  return inTransaction(db, async (trx) => {
    const before = await current(trx);
    for (const [k, v] of Object.entries(values)) await repo(() => setSettings(trx, { [k]: v }), Object.keys(SETTING).find((f) => SETTING[f as keyof DnsblConfig] === k));
    const after = await current(trx);
    await recordChange(trx, actor, { action: 'dnsbl.update', targetType: 'dnsbl', targetId: 'dnsbl', before, after });
    return after;
  });
}

export interface DnsblCheck {
  /** What was asked: the IP, or the registered domain of a host or URL. */
  query: string;
  kind: 'ip' | 'domain';
  listed: boolean;
  queries: number;
  hits: Array<{ zone: string; symbol: string; weight: number; answer: string }>;
  problems: Array<{ zone: string; kind: string; detail?: string }>;
}

/** Looks an IP address (client zones) or a domain or URL host (linked-domain zones) up now. */
export async function checkDnsbl(db: Db, actor: Actor, target: string, o: { dnsServers?: string[] } = {}): Promise<DnsblCheck> {
  assertCan(actor, 'dnsbl.read');
  const s = await loadSettings(db);
  const t = target.trim();
  const ip = isIP(t) !== 0;
  const what = ip ? t : registeredDomain(t);
  if (!what) throw new ServiceError('invalid', `"${target}" is neither an IP address nor a domain under a public suffix`, { target: 'not an IP address or domain' });
  const budget = Math.max(1000, s['dnsbl.budgetMs']);
  const resolver = new DnsResolver({ ...(o.dnsServers?.length ? { servers: o.dnsServers } : {}), timeoutMs: budget });
  const r = await lookupLists([what], ip ? s['dnsbl.ipZones'] : s['dnsbl.uriZones'], ip ? ipQueryPrefix : (d) => d, resolver.a, budget);
  return {
    query: what,
    kind: ip ? 'ip' : 'domain',
    listed: r.hits.length > 0,
    queries: r.queries,
    hits: r.hits.map((h) => ({ zone: h.entry.zone, symbol: h.entry.symbol, weight: h.entry.weight, answer: String(h.answer) })),
    problems: r.problems.map((p) => ({ zone: p.zone, kind: String(p.kind), ...(p.detail ? { detail: String(p.detail) } : {}) })),
  };
}
