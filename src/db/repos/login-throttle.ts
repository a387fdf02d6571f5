// Failed-login counters per account and per client address ("account:x", "address:ip").
import type { Db } from '../database.ts';
import type { LoginThrottleRow } from '../schema.ts';

export async function findThrottle(db: Db, key: string): Promise<LoginThrottleRow | undefined> {
  return db.selectFrom('login_throttle').selectAll().where('key', '=', key).executeTakeFirst();
}

export async function saveThrottle(db: Db, row: LoginThrottleRow): Promise<void> {
  await db
    .insertInto('login_throttle')
    .values(row)
    .onConflict((oc) => oc.column('key').doUpdateSet({ failures: row.failures, first_failure_at: row.first_failure_at, locked_until: row.locked_until, lock_count: row.lock_count }))
    .execute();
}

export async function clearThrottle(db: Db, key: string): Promise<void> {
  await db.deleteFrom('login_throttle').where('key', '=', key).execute();
}
