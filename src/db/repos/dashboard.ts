// Queries for the dashboard's setup nudges.
import type { Db } from '../database.ts';

/** Relay domains that sent mail out since `sinceMs` without an active DKIM key. */
export async function sendingDomainsWithoutDkim(db: Db, sinceMs: number): Promise<string[]> {
  const senders = await db
    .selectFrom('messages')
    .where('direction', '=', 'outbound')
    .where('received_at', '>=', sinceMs)
    .where('mail_from', '!=', '')
    .select('mail_from')
    .distinct()
    .limit(10_000)
    .execute();
  const sending = new Set(senders.map((s) => s.mail_from.slice(s.mail_from.lastIndexOf('@') + 1).toLowerCase()));
  if (!sending.size) return [];
  const relay = await db.selectFrom('relay_domains').select('domain').where('domain', 'in', [...sending]).execute();
  if (!relay.length) return [];
  const signed = new Set((await db.selectFrom('dkim_keys').select('domain').where('status', '=', 'active').execute()).map((k) => k.domain.toLowerCase()));
  return relay.map((r) => r.domain).filter((d) => !signed.has(d)).sort();
}

export async function relayDomainCount(db: Db): Promise<number> {
  const r = await db.selectFrom('relay_domains').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}
