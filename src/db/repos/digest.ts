// Queries of the digest and notice jobs: who has mail held, and what was held for whom.
import { sql } from 'kysely';
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

export interface DigestLines {
  /** The newest `perAddress` lines of each address, newest first. */
  lines: HeldLine[];
  /** How many were held for each address since its last digest (listed or not). */
  totals: Map<string, number>;
}

/**
 * Inbound mail still held for these addresses since each one's own last digest
 * (recipient_prefs.last_digest_at; never: everything) and not after `until`: the newest
 * `perAddress` per address, and the count of all. One query per page of addresses, and
 * what it returns is bounded (addresses x perAddress) however much one recipient has held.
 */
export async function digestLinesFor(db: Db, addresses: string[], until: number, perAddress: number): Promise<DigestLines> {
  if (!addresses.length) return { lines: [], totals: new Map() };
  const ranked = db
    .selectFrom('quarantine_recipients as qr')
    .innerJoin('quarantine as q', 'q.id', 'qr.quarantine_id')
    .leftJoin('recipient_prefs as rp', 'rp.address', 'qr.address')
    .select(['q.id', 'qr.address', 'q.mail_from', 'q.header_from', 'q.subject', 'q.received_at', 'q.held_at', 'q.category', 'q.score'])
    .select([
      sql<number>`row_number() over (partition by qr.address order by q.held_at desc, q.id desc)`.as('rn'),
      sql<number>`count(*) over (partition by qr.address)`.as('total'),
    ])
    .where('qr.address', 'in', addresses)
    .where('qr.state', '=', 'held')
    .where('q.direction', '=', 'inbound')
    .where('q.held_at', '>', sql<number>`coalesce(rp.last_digest_at, 0)`)
    .where('q.held_at', '<=', until)
    .as('t');
  const rows = await db.selectFrom(ranked).selectAll().where('t.rn', '<=', perAddress).orderBy('t.address').orderBy('t.rn').execute();
  const totals = new Map<string, number>();
  const lines = rows.map((r) => {
    totals.set(r.address, Number(r.total));
    return { id: r.id, address: r.address, mail_from: r.mail_from, header_from: r.header_from, subject: r.subject, category: r.category, received_at: Number(r.received_at), held_at: Number(r.held_at), score: r.score === null ? null : Number(r.score) };
  });
  return { lines, totals };
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
