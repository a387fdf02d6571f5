// The quarantine as one portal user sees it: entries with a recipient among their
// addresses, in that recipient's own state, newest first (keyset pages).
import type { Db } from '../database.ts';
import type { QuarantineRecipientRow, QuarantineRow, QuarantineState } from '../schema.ts';

export interface OwnEntry extends QuarantineRow {
  /** Only the user's own recipients of the entry (never who else got it). */
  own: QuarantineRecipientRow[];
}

export async function pageOwnQuarantine(
  db: Db,
  f: { addresses: string[]; category?: string; state?: QuarantineState | 'all'; before?: [number, string]; limit: number },
): Promise<OwnEntry[]> {
  if (!f.addresses.length) return [];
  const state = f.state ?? 'held';
  let q = db
    .selectFrom('quarantine')
    .selectAll('quarantine')
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('quarantine_recipients as qr')
          .select('qr.address')
          .whereRef('qr.quarantine_id', '=', 'quarantine.id')
          .where('qr.address', 'in', f.addresses)
          .$if(state !== 'all', (sq) => sq.where('qr.state', '=', state as QuarantineState)),
      ),
    );
  if (f.category) q = q.where('quarantine.category', '=', f.category);
  if (f.before) {
    const [at, id] = f.before;
    q = q.where((eb) => eb.or([eb('quarantine.held_at', '<', at), eb.and([eb('quarantine.held_at', '=', at), eb('quarantine.id', '<', id)])]));
  }
  const rows = await q.orderBy('quarantine.held_at', 'desc').orderBy('quarantine.id', 'desc').limit(f.limit).execute();
  return withOwn(db, rows, f.addresses);
}

export async function withOwn(db: Db, rows: QuarantineRow[], addresses: string[]): Promise<OwnEntry[]> {
  if (!rows.length) return [];
  const rcpts = await db.selectFrom('quarantine_recipients').selectAll().where('quarantine_id', 'in', rows.map((r) => r.id)).where('address', 'in', addresses).execute();
  const by = new Map<string, QuarantineRecipientRow[]>();
  for (const r of rcpts) by.set(r.quarantine_id, [...(by.get(r.quarantine_id) ?? []), r]);
  return rows.map((r) => ({ ...r, own: by.get(r.id) ?? [] }));
}

/** Held counts per category for these addresses (the portal's category tabs). */
export async function ownCategoryCounts(db: Db, addresses: string[]): Promise<Record<string, number>> {
  if (!addresses.length) return {};
  const rows = await db
    .selectFrom('quarantine_recipients as qr')
    .innerJoin('quarantine as q', 'q.id', 'qr.quarantine_id')
    .where('qr.address', 'in', addresses)
    .where('qr.state', '=', 'held')
    .select((eb) => ['q.category', eb.fn.count<number>('qr.quarantine_id').distinct().as('n')])
    .groupBy('q.category')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.category, Number(r.n)]));
}
