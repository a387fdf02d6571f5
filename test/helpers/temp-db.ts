// A migrated database in a temporary directory, for unit tests of repositories and
// configuration loaders; closed and removed afterwards whatever the test did. With
// HERMES_TEST_DB=postgres the database is a fresh one in the test process's PostgreSQL
// cluster (test/helpers/postgres.ts) instead of a SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { freshPostgresDatabase, testOnPostgres } from './postgres.ts';

/** Where a test's database lives: `dir`/hermes.db, or a new PostgreSQL database. */
export async function testDatabaseLocation(dir: string, file = 'hermes.db'): Promise<string> {
  return testOnPostgres() ? freshPostgresDatabase() : join(dir, file);
}

/** Opens a new, unmigrated test database (see testDatabaseLocation). */
export async function openTestDatabase(dir: string, file = 'hermes.db'): Promise<Db> {
  return openDatabase(await testDatabaseLocation(dir, file));
}

export async function withDb(fn: (db: Db) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-db-'));
  const db = await openTestDatabase(dir);
  try {
    await migrate(db);
    await fn(db);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
