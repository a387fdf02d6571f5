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
