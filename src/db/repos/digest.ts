// Queries of the digest and notice jobs: who has mail held, and what was held for whom.
import type { Db } from '../database.ts';

export interface HeldLine {
  id: string;
  address: string;
  mail_from: string;
  header_from: string | null;
  subject: string | null;
  received_at: number;
  held_at: number;
  category: string;
  score: number | null;
}

/** Recipients with inbound mail still held, in address order after `after` (keyset pages). */
export async function heldAddressesPage(db: Db, after: string, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('quarantine_recipients')
    .select('address')
    .distinct()
    .where('state', '=', 'held')
    .where('address', '>', after)
    .orderBy('address')
    .limit(limit)
    .execute();
  return rows.map((r) => r.address);
}

/** Inbound mail held for these addresses, held after `since`, newest first. */
export async function heldSince(db: Db, addresses: string[], since: number): Promise<HeldLine[]> {
  if (!addresses.length) return [];
  const rows = await db
    .selectFrom('quarantine_recipients as qr')
    .innerJoin('quarantine as q', 'q.id', 'qr.quarantine_id')
    .select(['q.id', 'qr.address', 'q.mail_from', 'q.header_from', 'q.subject', 'q.received_at', 'q.held_at', 'q.category', 'q.score'])
    .where('qr.address', 'in', addresses)
    .where('qr.state', '=', 'held')
    .where('q.direction', '=', 'inbound')
    .where('q.held_at', '>', since)
    .orderBy('q.held_at', 'desc')
    .execute();
  return rows.map((r) => ({ ...r, received_at: Number(r.received_at), held_at: Number(r.held_at), score: r.score === null ? null : Number(r.score) }));
}

/** Entries held after `after` (ms), oldest first: what the notice job has not looked at yet. */
export async function heldAfter(db: Db, after: number, limit: number): Promise<HeldLine[]> {
  const rows = await db
    .selectFrom('quarantine_recipients as qr')
    .innerJoin('quarantine as q', 'q.id', 'qr.quarantine_id')
    .select(['q.id', 'qr.address', 'q.mail_from', 'q.header_from', 'q.subject', 'q.received_at', 'q.held_at', 'q.category', 'q.score'])
    .where('qr.state', '=', 'held')
    .where('q.direction', '=', 'inbound')
    .where('q.held_at', '>', after)
    .orderBy('q.held_at')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, received_at: Number(r.received_at), held_at: Number(r.held_at), score: r.score === null ? null : Number(r.score) }));
}
