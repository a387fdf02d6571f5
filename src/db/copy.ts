// Copying a SQLite install into another database (normally a new PostgreSQL one, before
// moving to several nodes): every table the migrations made, in foreign-key order, in
// batches, with the queued messages' spool files turned into message_bytes rows when the
// target keeps messages in the database. Ids are copied as they are; PostgreSQL's id
// sequences are then moved past them.
import { sql } from 'kysely';
import { dialectOf, type Db } from './database.ts';
import { migrate } from './migrate.ts';
import { insertMessageBytes } from './repos/message-bytes.ts';
import { DB_SPOOL_PREFIX, isDbSpoolFile } from '../spool/db-spool.ts';

/** Not copied: the target records its own migrations and its own nodes. */
const SKIP = new Set(['migrations', 'cluster_nodes']);

export interface CopyProgress {
  table: string;
  copied: number;
  total: number;
}

export interface CopyOptions {
  /** Reads a queued message's spool file (the source's spool_file column) for the target's message_bytes. */
  readSpoolFile?: (file: string) => Promise<Buffer>;
  /** The target keeps message bytes in the database: spool files are copied into it. */
  messagesInTarget: boolean;
  batchRows?: number;
  progress?: (p: CopyProgress) => void;
}

export async function copyDatabase(from: Db, to: Db, o: CopyOptions): Promise<{ tables: number; rows: number; messages: number }> {
  if (dialectOf(from) !== 'sqlite') throw new Error('hermes db copy copies from a SQLite database');
  await migrate(from);
  // Only into a new database: one the migrations already built may hold another install.
  if (await holdsMigrations(to)) {
    throw new Error('the target database is not empty (it already holds a Hermes schema): copy into a new, empty database');
  }
  await migrate(to);
  const tables = await tablesInForeignKeyOrder(from);
  // The migrations seed defaults (the file rule set, the default policy, example rules,
  // Bayes totals, settings); the source's rows replace them. Children before parents.
  for (const t of [...tables].reverse()) await sql`DELETE FROM ${sql.table(t)}`.execute(to);
  const batch = o.batchRows ?? 1000;
  let rows = 0;
  let messages = 0;
  for (const t of tables) {
    const total = Number((await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(t)}`.execute(from)).rows[0]?.n ?? 0);
    let copied = 0;
    o.progress?.({ table: t, copied, total });
    for (let offset = 0; offset < total; offset += batch) {
      const chunk = (await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(t)} ORDER BY rowid LIMIT ${batch} OFFSET ${offset}`.execute(from)).rows;
      if (!chunk.length) break;
      await to.transaction().execute(async (trx) => {
        if (t === 'messages' && o.messagesInTarget) {
          for (const m of chunk) {
            const file = String(m.spool_file);
            if (m.state !== 'queued' || isDbSpoolFile(file) || !o.readSpoolFile) continue;
            const bytes = await o.readSpoolFile(file).catch((err: NodeJS.ErrnoException) => {
              // Gone already (delivered while copying): the row is copied as it is.
              if (err.code === 'ENOENT') return null;
              throw err;
            });
            if (!bytes) continue;
            await insertMessageBytes(trx, String(m.id), bytes);
            m.spool_file = `${DB_SPOOL_PREFIX}${String(m.id)}`;
            messages++;
          }
        }
        await trx.insertInto(t as 'messages').values(chunk as never).execute();
      });
      copied += chunk.length;
      rows += chunk.length;
      o.progress?.({ table: t, copied, total });
    }
  }
  if (dialectOf(to) === 'postgres') {
    for (const t of tables) {
      await sql`SELECT setval(s, m) FROM (SELECT pg_get_serial_sequence(${t}, 'id') AS s, (SELECT max(id) FROM ${sql.table(t)}) AS m) x
        WHERE s IS NOT NULL AND m IS NOT NULL`.execute(to).catch(() => {});
    }
  }
  return { tables: tables.length, rows, messages };
}

async function holdsMigrations(db: Db): Promise<boolean> {
  try {
    const r = await sql<{ n: number }>`SELECT count(*) AS n FROM migrations`.execute(db);
    return Number(r.rows[0]?.n ?? 0) > 0;
  } catch {
    return false; // no migrations table: a new database
  }
}

/** The source's tables, each after the tables its foreign keys point to. */
async function tablesInForeignKeyOrder(db: Db): Promise<string[]> {
  const names = (await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`.execute(db)).rows
    .map((r) => r.name)
    .filter((n) => !SKIP.has(n));
  const deps = new Map<string, string[]>();
  for (const n of names) {
    const fks = (await sql<{ table: string }>`SELECT "table" FROM pragma_foreign_key_list(${n})`.execute(db)).rows.map((r) => r.table);
    deps.set(n, fks.filter((f) => f !== n));
  }
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const d of deps.get(n) ?? []) if (deps.has(d)) visit(d);
    out.push(n);
  };
  for (const n of names) visit(n);
  return out;
}
