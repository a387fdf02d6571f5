import type { Db } from './database.ts';
import { MIGRATIONS } from './migrations/index.ts';

/** Applies every migration not yet recorded; returns the versions applied. */
export async function migrate(db: Db): Promise<number[]> {
  await db.schema
    .createTable('migrations')
    .ifNotExists()
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('applied_at', 'bigint', (c) => c.notNull())
    .execute();
  const done = new Set((await db.selectFrom('migrations').select('version').execute()).map((r) => Number(r.version)));
  // A database a newer release has migrated may hold tables and meanings this code does
  // not know: refuse it rather than run on it (and never "downgrade" it).
  const known = new Set(MIGRATIONS.map((m) => m.version));
  const unknown = [...done].filter((v) => !known.has(v)).sort((a, b) => a - b);
  if (unknown.length) {
    throw new Error(
      `the database has schema version ${Math.max(...done)}, newer than this release knows (latest ${LATEST_SCHEMA_VERSION}; unknown migrations ${unknown.join(', ')}): run the release that wrote it, or restore a backup made by this one`,
    );
  }
  const applied: number[] = [];
  for (const m of [...MIGRATIONS].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    await db.transaction().execute(async (trx) => {
      await m.up(trx);
      await trx.insertInto('migrations').values({ version: m.version, name: m.name, applied_at: Date.now() }).execute();
    });
    applied.push(m.version);
  }
  return applied;
}

export async function schemaVersion(db: Db): Promise<number> {
  const row = await db.selectFrom('migrations').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst();
  return Number(row?.v ?? 0);
}

export const LATEST_SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));
