// Outbound TLS level per destination (tls_policies): a recipient domain for MX delivery,
// or a next hop's host name. Writes bump the configuration serial so a running gateway
// uses the new level for its next connection.
import { inTransaction } from '../transaction.ts';
import type { Db } from '../database.ts';
import { bumpConfigSerial } from '../../config/settings.ts';

/** none: never STARTTLS; may: opportunistic; encrypt: TLS required, any certificate; verify: name and chain checked; dane: TLSA (RFC 7672). */
export const TLS_LEVELS = ['none', 'may', 'encrypt', 'verify', 'dane'] as const;
export type TlsLevel = (typeof TLS_LEVELS)[number];

export interface TlsPolicy {
  /** "example.com", ".example.com" (every name below it), or a next hop's host name / "[10.0.0.5]". */
  destination: string;
  level: TlsLevel;
}

export function isTlsLevel(v: unknown): v is TlsLevel {
  return (TLS_LEVELS as readonly unknown[]).includes(v);
}

const DESTINATION_RE = /^(\.?([a-z0-9_](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|\[[0-9a-f:.]+\])$/;

export function normaliseDestination(d: string): string {
  const n = d.trim().toLowerCase().replace(/\.$/, '');
  if (!DESTINATION_RE.test(n) || n.length > 255) throw new Error(`invalid destination "${d}": a domain, ".domain" for every name below it, or "[address]"`);
  return n;
}

export async function listTlsPolicies(db: Db): Promise<TlsPolicy[]> {
  const rows = await db.selectFrom('tls_policies').select(['domain', 'level']).orderBy('domain').execute();
  return rows.filter((r) => isTlsLevel(r.level)).map((r) => ({ destination: r.domain, level: r.level as TlsLevel }));
}

export async function setTlsPolicy(db: Db, destination: string, level: TlsLevel): Promise<TlsPolicy> {
  if (!isTlsLevel(level)) throw new Error(`TLS level must be one of ${TLS_LEVELS.join(', ')}`);
  const domain = normaliseDestination(destination);
  const now = Date.now();
  await inTransaction(db, async (trx) => {
    await trx
      .insertInto('tls_policies')
      .values({ domain, level, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('domain').doUpdateSet({ level, updated_at: now }))
      .execute();
    await bumpConfigSerial(trx);
  });
  return { destination: domain, level };
}

/** False when there was no such entry. */
export async function removeTlsPolicy(db: Db, destination: string): Promise<boolean> {
  const domain = normaliseDestination(destination);
  return inTransaction(db, async (trx) => {
    const r = await trx.deleteFrom('tls_policies').where('domain', '=', domain).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) return false;
    await bumpConfigSerial(trx);
    return true;
  });
}
