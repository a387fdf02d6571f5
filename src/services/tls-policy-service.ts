// Outbound TLS levels per destination, and the MTA-STS policies learnt from receiving
// domains. Both are delivery settings (settings.read / settings.write).
import type { Db } from '../db/database.ts';
import { listTlsPolicies as listRows, removeTlsPolicy as removeRow, setTlsPolicy as setRow, isTlsLevel, TLS_LEVELS, type TlsPolicy } from '../db/repos/tls-policies.ts';
import { forgetCachedStsPolicy, listCachedStsPolicies } from '../db/repos/mta-sts-cache.ts';
import { assertCan, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { ServiceError } from './service-error.ts';
import { checked, invalid, iso } from './validation.ts';

export type { TlsPolicy };

export async function listTlsPolicies(db: Db, actor: Actor): Promise<TlsPolicy[]> {
  assertCan(actor, 'settings.read');
  return listRows(db);
}

export async function setTlsPolicy(db: Db, actor: Actor, destination: string, level: string): Promise<TlsPolicy> {
  assertCan(actor, 'settings.write');
  if (!isTlsLevel(level)) throw invalid('level', `level must be one of ${TLS_LEVELS.join(', ')}`);
  if (level === 'dane') {
    // Refused here rather than deferring every message later: DANE (RFC 7672) needs
    // TLSA answers a DNSSEC-validating resolver vouches for (AD bit), which we lack.
    throw invalid('level', 'level "dane" needs a DNSSEC-validating resolver, which this gateway does not have yet; use "verify" (certificate name and chain) instead');
  }
  const saved = await checked('destination', () => setRow(db, destination, level));
  await recordChange(db, actor, { action: 'tls-policy.set', targetType: 'tls-policy', targetId: saved.destination, after: saved });
  return saved;
}

export async function removeTlsPolicy(db: Db, actor: Actor, destination: string): Promise<void> {
  assertCan(actor, 'settings.write');
  const removed = await checked('destination', () => removeRow(db, destination));
  if (!removed) throw new ServiceError('not_found', `no TLS policy for ${destination}`);
  await recordChange(db, actor, { action: 'tls-policy.remove', targetType: 'tls-policy', targetId: destination.toLowerCase() });
}

export interface MtaStsView {
  domain: string;
  id: string;
  mode: string;
  mx: string[];
  maxAge: number;
  fetchedAt: string | null;
  expiresAt: string | null;
}

export async function listMtaStsPolicies(db: Db, actor: Actor): Promise<MtaStsView[]> {
  assertCan(actor, 'settings.read');
  return (await listCachedStsPolicies(db)).map((p) => ({ domain: p.domain, id: p.id, mode: p.mode, mx: p.mx, maxAge: p.maxAge, fetchedAt: iso(p.fetchedAt), expiresAt: iso(p.expiresAt) }));
}

/** Drops a cached policy: the next delivery fetches it again. */
export async function forgetMtaStsPolicy(db: Db, actor: Actor, domain: string): Promise<void> {
  assertCan(actor, 'settings.write');
  if (!(await forgetCachedStsPolicy(db, domain.toLowerCase()))) throw new ServiceError('not_found', `no cached MTA-STS policy for ${domain}`);
  await recordChange(db, actor, { action: 'mta-sts.forget', targetType: 'mta-sts', targetId: domain.toLowerCase() });
}
