// The MTA-STS policies fetched from receiving domains (RFC 8461 section 5.1: a policy is
// cached for its max_age, and a cached unexpired policy keeps applying when the TXT
// record or the HTTPS fetch is gone, which is what stops a downgrade). Shared by every
// worker and node through the database.
import type { Db } from '../database.ts';

export interface CachedStsPolicy {
  domain: string;
  id: string;
  mode: 'enforce' | 'testing' | 'none';
  mx: string[];
  maxAge: number;
  fetchedAt: number;
  expiresAt: number;
}

export async function getCachedStsPolicy(db: Db, domain: string): Promise<CachedStsPolicy | null> {
  const r = await db.selectFrom('mta_sts_policies').selectAll().where('domain', '=', domain).executeTakeFirst();
  if (!r) return null;
  let mx: string[] = [];
  try {
    const parsed: unknown = JSON.parse(r.mx_json);
    if (Array.isArray(parsed)) mx = parsed.filter((m): m is string => typeof m === 'string');
  } catch {
    return null; // a damaged row is as good as none: the policy is fetched again
  }
  const mode = r.mode === 'enforce' || r.mode === 'testing' ? r.mode : 'none';
  return { domain: r.domain, id: r.policy_id, mode, mx, maxAge: Number(r.max_age), fetchedAt: Number(r.fetched_at), expiresAt: Number(r.expires_at) };
}

export async function putCachedStsPolicy(db: Db, p: CachedStsPolicy): Promise<void> {
  const row = { policy_id: p.id, mode: p.mode, mx_json: JSON.stringify(p.mx), max_age: p.maxAge, fetched_at: p.fetchedAt, expires_at: p.expiresAt };
  await db
    .insertInto('mta_sts_policies')
    .values({ domain: p.domain, ...row })
    .onConflict((oc) => oc.column('domain').doUpdateSet(row))
    .execute();
}

export async function listCachedStsPolicies(db: Db): Promise<CachedStsPolicy[]> {
  const rows = await db.selectFrom('mta_sts_policies').select('domain').orderBy('domain').execute();
  const out: CachedStsPolicy[] = [];
  for (const r of rows) {
    const p = await getCachedStsPolicy(db, r.domain);
    if (p) out.push(p);
  }
  return out;
}

export async function forgetCachedStsPolicy(db: Db, domain: string): Promise<boolean> {
  const r = await db.deleteFrom('mta_sts_policies').where('domain', '=', domain).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
