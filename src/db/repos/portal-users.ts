// Portal accounts are users with role "user" whose user name is their own address; an
// admin may delegate further addresses (a shared mailbox) to them.
import type { Db } from '../database.ts';

export async function delegatedAddresses(db: Db, userId: string): Promise<string[]> {
  return (await db.selectFrom('portal_delegations').select('address').where('user_id', '=', userId).orderBy('address').execute()).map((r) => r.address);
}

export async function addDelegation(db: Db, userId: string, address: string): Promise<void> {
  await db.insertInto('portal_delegations').values({ user_id: userId, address: address.toLowerCase(), created_at: Date.now() }).onConflict((oc) => oc.columns(['user_id', 'address']).doNothing()).execute();
}

export async function removeDelegation(db: Db, userId: string, address: string): Promise<boolean> {
  const r = await db.deleteFrom('portal_delegations').where('user_id', '=', userId).where('address', '=', address.toLowerCase()).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Records a release request; false when this recipient asked already. */
export async function insertReleaseRequest(db: Db, r: { quarantine_id: string; address: string; requested_by: string; comment: string | null }): Promise<boolean> {
  const res = await db.insertInto('release_requests').values({ ...r, requested_at: Date.now() }).onConflict((oc) => oc.columns(['quarantine_id', 'address']).doNothing()).executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function releaseRequestsFor(db: Db, quarantineIds: string[], addresses: string[]): Promise<Set<string>> {
  if (!quarantineIds.length || !addresses.length) return new Set();
  const rows = await db.selectFrom('release_requests').select(['quarantine_id', 'address']).where('quarantine_id', 'in', quarantineIds).where('address', 'in', addresses).execute();
  return new Set(rows.map((r) => `${r.quarantine_id} ${r.address}`));
}

/** Was `key` notified since `since`? If not, marks it notified now (one mail per cause per period). */
export async function claimNotification(db: Db, key: string, since: number, now = Date.now()): Promise<boolean> {
  const row = await db.selectFrom('notifications_sent').select('sent_at').where('key', '=', key).executeTakeFirst();
  if (row && Number(row.sent_at) > since) return false;
  await db.insertInto('notifications_sent').values({ key, sent_at: now }).onConflict((oc) => oc.column('key').doUpdateSet({ sent_at: now })).execute();
  return true;
}
