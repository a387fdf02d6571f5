// App passwords: per-user secrets for mail clients (SMTP submission), stored hashed.
import type { Insertable } from 'kysely';
import type { Db } from '../database.ts';
import type { AppPasswordRow, AppPasswordsTable } from '../schema.ts';

export async function insertAppPassword(db: Db, row: Insertable<AppPasswordsTable>): Promise<void> {
  await db.insertInto('app_passwords').values(row).execute();
}

export async function listAppPasswords(db: Db, userId: string, includeRevoked = false): Promise<AppPasswordRow[]> {
  let q = db.selectFrom('app_passwords').selectAll().where('user_id', '=', userId);
  if (!includeRevoked) q = q.where('revoked_at', 'is', null);
  return q.orderBy('created_at').orderBy('id').execute();
}

export async function findAppPassword(db: Db, id: string): Promise<AppPasswordRow | undefined> {
  return db.selectFrom('app_passwords').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function revokeAppPassword(db: Db, id: string, at: number): Promise<void> {
  await db.updateTable('app_passwords').set({ revoked_at: at }).where('id', '=', id).execute();
}

export async function touchAppPassword(db: Db, id: string, at: number, address: string): Promise<void> {
  await db.updateTable('app_passwords').set({ last_used_at: at, last_used_address: address }).where('id', '=', id).execute();
}
