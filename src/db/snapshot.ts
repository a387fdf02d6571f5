// A consistent copy of the SQLite database while the gateway writes to it: SQLite's
// online backup API copies every page of one committed state, whatever the other
// connections do meanwhile (WAL readers are never blocked).
import SQLite from 'better-sqlite3';

export async function snapshotSqlite(file: string, dest: string): Promise<void> {
  const src = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    await src.backup(dest);
  } finally {
    src.close();
  }
}
