// Relay policy: which domains we accept mail for (and where it goes), which recipients
// exist on SPECIFIED domains, and which client networks may relay anywhere.
import { inTransaction } from '../transaction.ts';
import type { Db } from '../database.ts';
import type { RecipientMode, RelayDomainRow } from '../schema.ts';
import { bumpConfigSerial } from '../../config/settings.ts';
import { parseCidr } from '../../smtp/cidr.ts';
import { parseNextHop } from '../../delivery/route.ts';
import { inDomains } from './domain-scope.ts';

export function normaliseDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  if (!/^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(d)) {
    throw new Error(`invalid domain name: ${domain}`);
  }
  return d;
}

export interface RelayDomainInput {
  domain: string;
  nextHop?: string | null;
  requireTls?: boolean;
  recipientMode?: RecipientMode;
}

export async function upsertRelayDomain(db: Db, input: RelayDomainInput): Promise<void> {
  const domain = normaliseDomain(input.domain);
  if (input.nextHop) parseNextHop(input.nextHop); // throws a clear error on a bad value
  const mode = input.recipientMode ?? 'any';
  if (mode !== 'any' && mode !== 'specified') throw new Error('recipient mode must be "any" or "specified"');
  const row = {
    domain,
    next_hop: input.nextHop ?? null,
    require_tls: input.requireTls ? 1 : 0,
    recipient_mode: mode,
    created_at: Date.now(),
  };
  await inTransaction(db, async (trx) => {
    await trx
      .insertInto('relay_domains')
      .values(row)
      .onConflict((oc) => oc.column('domain').doUpdateSet({ next_hop: row.next_hop, require_tls: row.require_tls, recipient_mode: row.recipient_mode }))
      .execute();
    await bumpConfigSerial(trx);
  });
}

export async function removeRelayDomain(db: Db, domain: string): Promise<boolean> {
  const d = normaliseDomain(domain);
  return inTransaction(db, async (trx) => {
    const res = await trx.deleteFrom('relay_domains').where('domain', '=', d).executeTakeFirst();
    await bumpConfigSerial(trx);
    return Number(res.numDeletedRows) > 0;
  });
}

export function listRelayDomains(db: Db): Promise<RelayDomainRow[]> {
  return db.selectFrom('relay_domains').selectAll().orderBy('domain').execute();
}

export function normaliseRecipientPattern(pattern: string): { pattern: string; domain: string } {
  const p = pattern.trim().toLowerCase();
  const at = p.lastIndexOf('@');
  if (at <= 0 || at === p.length - 1) throw new Error(`invalid recipient "${pattern}": use user@domain or *@domain`);
  const local = p.slice(0, at);
  const domain = normaliseDomain(p.slice(at + 1));
  if (/\s/.test(local)) throw new Error(`invalid recipient "${pattern}"`);
  return { pattern: `${local}@${domain}`, domain };
}

export async function addRelayRecipient(db: Db, pattern: string): Promise<void> {
  const r = normaliseRecipientPattern(pattern);
  await inTransaction(db, async (trx) => {
    await trx.insertInto('relay_recipients').values({ ...r, created_at: Date.now() }).onConflict((oc) => oc.doNothing()).execute();
    await bumpConfigSerial(trx);
  });
}

export async function removeRelayRecipient(db: Db, pattern: string): Promise<boolean> {
  const r = normaliseRecipientPattern(pattern);
  return inTransaction(db, async (trx) => {
    const res = await trx.deleteFrom('relay_recipients').where('pattern', '=', r.pattern).executeTakeFirst();
    await bumpConfigSerial(trx);
    return Number(res.numDeletedRows) > 0;
  });
}

export function listRelayRecipients(db: Db, domain?: string) {
  let q = db.selectFrom('relay_recipients').selectAll().orderBy('domain').orderBy('pattern');
  if (domain) q = q.where('domain', '=', normaliseDomain(domain));
  return q.execute();
}

export async function addRelayNetwork(db: Db, cidr: string, description?: string): Promise<string> {
  const canonical = parseCidr(cidr).canonical;
  await inTransaction(db, async (trx) => {
    await trx
      .insertInto('relay_networks')
      .values({ cidr: canonical, description: description ?? null, created_at: Date.now() })
      .onConflict((oc) => oc.column('cidr').doUpdateSet({ description: description ?? null }))
      .execute();
    await bumpConfigSerial(trx);
  });
  return canonical;
}

export async function removeRelayNetwork(db: Db, cidr: string): Promise<boolean> {
  const canonical = parseCidr(cidr).canonical;
  return inTransaction(db, async (trx) => {
    const res = await trx.deleteFrom('relay_networks').where('cidr', '=', canonical).executeTakeFirst();
    await bumpConfigSerial(trx);
    return Number(res.numDeletedRows) > 0;
  });
}

export function listRelayNetworks(db: Db) {
  return db.selectFrom('relay_networks').selectAll().orderBy('cidr').execute();
}

export function getRelayDomain(db: Db, domain: string): Promise<RelayDomainRow | undefined> {
  return db.selectFrom('relay_domains').selectAll().where('domain', '=', normaliseDomain(domain)).executeTakeFirst();
}

/** One page of relay domains in name order, after `after`, limited to `scope` when given. */
export function pageRelayDomains(db: Db, o: { after?: string; scope?: readonly string[]; limit: number }): Promise<RelayDomainRow[]> {
  let q = db.selectFrom('relay_domains').selectAll();
  if (o.after !== undefined) q = q.where('domain', '>', o.after);
  if (o.scope) q = q.where((eb) => inDomains(eb, 'domain', o.scope!));
  return q.orderBy('domain').limit(o.limit).execute();
}

export function getRelayRecipient(db: Db, pattern: string) {
  return db.selectFrom('relay_recipients').selectAll().where('pattern', '=', normaliseRecipientPattern(pattern).pattern).executeTakeFirst();
}

/** One page of relay recipients ordered by (domain, pattern). */
export function pageRelayRecipients(db: Db, o: { after?: [string, string]; domain?: string; scope?: readonly string[]; limit: number }) {
  let q = db.selectFrom('relay_recipients').selectAll();
  if (o.after) {
    const [d, p] = o.after;
    q = q.where((eb) => eb.or([eb('domain', '>', d), eb.and([eb('domain', '=', d), eb('pattern', '>', p)])]));
  }
  if (o.domain) q = q.where('domain', '=', normaliseDomain(o.domain));
  if (o.scope) q = q.where((eb) => inDomains(eb, 'domain', o.scope!));
  return q.orderBy('domain').orderBy('pattern').limit(o.limit).execute();
}

export function getRelayNetwork(db: Db, cidr: string) {
  return db.selectFrom('relay_networks').selectAll().where('cidr', '=', parseCidr(cidr).canonical).executeTakeFirst();
}

export function pageRelayNetworks(db: Db, o: { after?: string; limit: number }) {
  let q = db.selectFrom('relay_networks').selectAll();
  if (o.after !== undefined) q = q.where('cidr', '>', o.after);
  return q.orderBy('cidr').limit(o.limit).execute();
}
