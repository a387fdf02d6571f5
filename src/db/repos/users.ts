// Console and API user accounts.
import type { Insertable, Updateable } from 'kysely';
import type { Db } from '../database.ts';
import type { UserRow, UsersTable } from '../schema.ts';

export async function insertUser(db: Db, row: Insertable<UsersTable>): Promise<void> {
  await db.insertInto('users').values(row).execute();
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findUserByName(db: Db, username: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('username', '=', username.toLowerCase()).executeTakeFirst();
}

export async function updateUser(db: Db, id: string, changes: Updateable<UsersTable>): Promise<void> {
  await db.updateTable('users').set(changes).where('id', '=', id).execute();
}

/**
 * Records that a TOTP code of this time step was used, unless one of this step or a later
 * one was used already (then false: the code is a replay). One conditional UPDATE, so two
 * sign-ins racing with the same code cannot both win.
 */
export async function claimTotpStep(db: Db, id: string, step: number): Promise<boolean> {
  const r = await db
    .updateTable('users')
    .set({ totp_last_step: step })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function deleteUser(db: Db, id: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}

/** Users ordered by name, after `afterName` (keyset cursor). */
export async function listUsers(db: Db, f: { afterName?: string; role?: string }, limit: number): Promise<UserRow[]> {
  let q = db.selectFrom('users').selectAll();
  if (f.afterName !== undefined) q = q.where('username', '>', f.afterName);
  if (f.role) q = q.where('role', '=', f.role);
  return q.orderBy('username').limit(limit).execute();
}

export async function countAdmins(db: Db): Promise<number> {
  const r = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('role', '=', 'admin').where('disabled', '=', 0).executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function countUsers(db: Db): Promise<number> {
  const r = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
  return Number(r?.n ?? 0);
}
