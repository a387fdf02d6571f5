// Queries on the quarantine index (tables quarantine and quarantine_recipients).
import type { Db } from '../database.ts';
import type { QuarantineRecipientRow, QuarantineRow, QuarantineState, QuarantineTable } from '../schema.ts';

export interface QuarantineEntry extends QuarantineRow {
  recipients: QuarantineRecipientRow[];
}

export interface QuarantineFilter {
  /** Only entries for this recipient address (in `state` for that recipient). */
  recipient?: string;
  category?: string;
  /** Held at or after this time (ms). */
  since?: number;
  /** Default: held only; 'all' for every state. */
  state?: QuarantineState | 'all';
  limit?: number;
}

/** `event`, when given, goes into the trace of the message as received, in the same transaction. */
export async function insertQuarantine(db: Db, row: QuarantineTable, recipients: string[], event?: { type: string; detail: unknown }): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('quarantine').values(row).execute();
    await trx
      .insertInto('quarantine_recipients')
      .values(recipients.map((address) => ({ quarantine_id: row.id, address, state: 'held' as const, released_at: null, released_as: null })))
      .execute();
    if (event) await trx.insertInto('events').values({ message_id: row.message_id, at: row.held_at, type: event.type, recipient: null, detail: JSON.stringify(event.detail) }).execute();
  });
}

export async function listQuarantine(db: Db, f: QuarantineFilter = {}): Promise<QuarantineEntry[]> {
  let q = db.selectFrom('quarantine').selectAll('quarantine');
  const state = f.state ?? 'held';
  // For one recipient, that recipient's own state counts (held for bob, released for alice).
  if (state !== 'all' && !f.recipient) q = q.where('quarantine.state', '=', state);
  if (f.category) q = q.where('quarantine.category', '=', f.category);
  if (f.since !== undefined) q = q.where('quarantine.held_at', '>=', f.since);
  if (f.recipient) {
    const addr = f.recipient.toLowerCase();
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('quarantine_recipients')
          .select('quarantine_recipients.address')
          .whereRef('quarantine_recipients.quarantine_id', '=', 'quarantine.id')
          .where('quarantine_recipients.address', '=', addr)
          .$if(state !== 'all', (sq) => sq.where('quarantine_recipients.state', '=', state as QuarantineState)),
      ),
    );
  }
  const rows = await q.orderBy('quarantine.held_at', 'desc').limit(f.limit ?? 500).execute();
  return withRecipients(db, rows);
}

export async function getQuarantine(db: Db, id: string): Promise<QuarantineEntry | null> {
  const row = await db.selectFrom('quarantine').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return null;
  return (await withRecipients(db, [row]))[0]!;
}

/** A full quarantine id or a unique prefix of one. */
export async function resolveQuarantineId(db: Db, id: string): Promise<string> {
  const rows = await db.selectFrom('quarantine').select('id').where('id', 'like', `${id.toUpperCase()}%`).limit(2).execute();
  if (rows.length === 0) throw new Error(`no quarantined message with id ${id}`);
  if (rows.length > 1) throw new Error(`quarantine id prefix ${id} is ambiguous`);
  return rows[0]!.id;
}

async function withRecipients(db: Db, rows: QuarantineRow[]): Promise<QuarantineEntry[]> {
  if (!rows.length) return [];
  const rcpts = await db.selectFrom('quarantine_recipients').selectAll().where('quarantine_id', 'in', rows.map((r) => r.id)).execute();
  const by = new Map<string, QuarantineRecipientRow[]>();
  for (const r of rcpts) by.set(r.quarantine_id, [...(by.get(r.quarantine_id) ?? []), r]);
  return rows.map((r) => ({ ...r, recipients: by.get(r.id) ?? [] }));
}

/** The entry's state from its recipients': held while one is held, else released if one was. */
export function overallState(recipients: Pick<QuarantineRecipientRow, 'state'>[]): QuarantineState {
  if (recipients.some((r) => r.state === 'held')) return 'held';
  if (recipients.some((r) => r.state === 'released')) return 'released';
  return 'deleted';
}

/** Entries held before `before` (any state): due for purging. */
export async function purgeable(db: Db, before: number, limit = 1000): Promise<Pick<QuarantineRow, 'id' | 'file' | 'message_id'>[]> {
  return db.selectFrom('quarantine').select(['id', 'file', 'message_id']).where('held_at', '<', before).orderBy('held_at').limit(limit).execute();
}

export async function removeQuarantineRows(db: Db, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('quarantine_recipients').where('quarantine_id', 'in', ids).execute();
    await trx.deleteFrom('quarantine').where('id', 'in', ids).execute();
  });
}

export interface QuarantinePageFilter {
  /** Keyset: rows before (held_at, id), newest first. */
  before?: [number, string];
  recipient?: string;
  sender?: string;
  category?: string;
  minScore?: number;
  fromMs?: number;
  toMs?: number;
  state?: QuarantineState | 'all';
  /** Domain administrators: entries with a recipient in these domains. */
  scope?: readonly string[];
  limit: number;
}

/** One page of quarantine entries, filters in SQL (the recipient filter starts from its index). */
export async function pageQuarantine(db: Db, f: QuarantinePageFilter): Promise<QuarantineEntry[]> {
  const state = f.state ?? 'held';
  let q = db.selectFrom('quarantine').selectAll('quarantine');
  if (f.recipient) {
    q = q
      .innerJoin('quarantine_recipients as qr', 'qr.quarantine_id', 'quarantine.id')
      .where('qr.address', '=', f.recipient.toLowerCase())
      .$if(state !== 'all', (sq) => sq.where('qr.state', '=', state as QuarantineState)) as typeof q;
  } else if (state !== 'all') q = q.where('quarantine.state', '=', state);
  if (f.before) {
    const [at, id] = f.before;
    q = q.where((eb) => eb.or([eb('quarantine.held_at', '<', at), eb.and([eb('quarantine.held_at', '=', at), eb('quarantine.id', '<', id)])]));
  }
  if (f.sender) q = q.where('quarantine.mail_from', '=', f.sender.toLowerCase());
  if (f.category) q = q.where('quarantine.category', '=', f.category);
  if (f.minScore !== undefined) q = q.where('quarantine.score', '>=', f.minScore);
  if (f.fromMs !== undefined) q = q.where('quarantine.held_at', '>=', f.fromMs);
  if (f.toMs !== undefined) q = q.where('quarantine.held_at', '<', f.toMs);
  if (f.scope) {
    const scope = f.scope;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('quarantine_recipients as sr')
          .select('sr.address')
          .whereRef('sr.quarantine_id', '=', 'quarantine.id')
          .where((e2) => e2.or(scope.flatMap((d) => [e2('sr.address', 'like', `%@${d}`), e2('sr.address', 'like', `%.${d}`)]))),
      ),
    );
  }
  const rows = await q.orderBy('quarantine.held_at', 'desc').orderBy('quarantine.id', 'desc').limit(f.limit).execute();
  return withRecipients(db, rows);
}

/** Held entries (and their total size), for the dashboard. */
export async function quarantineSize(db: Db): Promise<{ held: number; bytes: number }> {
  const r = await db
    .selectFrom('quarantine')
    .where('state', '=', 'held')
    .select((eb) => [eb.fn.countAll<number>().as('held'), eb.fn.sum<number>('size').as('bytes')])
    .executeTakeFirstOrThrow();
  return { held: Number(r.held), bytes: Number(r.bytes ?? 0) };
}
