// The addresses a user may send as (besides their own user name, when it is an address).
import type { Db } from '../database.ts';
import type { SenderAddressRow } from '../schema.ts';

export async function listSenderAddresses(db: Db, userId: string): Promise<SenderAddressRow[]> {
  return db.selectFrom('sender_addresses').selectAll().where('user_id', '=', userId).orderBy('address').execute();
}

export async function insertSenderAddress(db: Db, row: SenderAddressRow): Promise<void> {
  await db.insertInto('sender_addresses').values(row).execute();
}

export async function deleteSenderAddress(db: Db, userId: string, address: string): Promise<number> {
  const r = await db.deleteFrom('sender_addresses').where('user_id', '=', userId).where('address', '=', address).executeTakeFirst();
  return Number(r.numDeletedRows);
}
