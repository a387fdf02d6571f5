// Repositories change rows inside a transaction of their own, unless the caller (a
// service that also writes the audit entry) already opened one: then they join it, so
// the change and its audit entry commit together or not at all.
import type { Db } from './database.ts';

export function inTransaction<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}
