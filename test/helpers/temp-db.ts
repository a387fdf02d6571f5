// A migrated database in a temporary directory, for unit tests of repositories and
// configuration loaders; closed and removed afterwards whatever the test did.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';

export async function withDb(fn: (db: Db) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-db-'));
  const db = openDatabase(join(dir, 'hermes.db'));
  try {
    await migrate(db);
    await fn(db);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
