// One transaction for a change and its audit entry. Repository functions run their
// writes through inTransaction: called with the database they open a transaction, called
// with a transaction (a service's, which also records the audit entry) they join it, so
// the change and its entry commit or roll back together.
import type { Db } from './database.ts';

export function inTransaction<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  return db.transaction().execute((trx) => fn(trx));
}
