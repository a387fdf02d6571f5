// Action links work once: each use is a row keyed by the link's id.
import type { Db } from '../database.ts';
import type { LinkUsesTable } from '../schema.ts';

/** Records the use; false when the link was used already (the primary key says so, in any process). */
export async function claimLinkUse(db: Db, row: LinkUsesTable): Promise<boolean> {
  const r = await db.insertInto('link_uses').values(row).onConflict((oc) => oc.column('link_id').doNothing()).executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Gives a claimed use back (the action failed before it did anything, so the link may be tried again). */
export async function releaseLinkUse(db: Db, linkId: string): Promise<void> {
  await db.deleteFrom('link_uses').where('link_id', '=', linkId).execute();
}

export async function findLinkUse(db: Db, linkId: string) {
  return db.selectFrom('link_uses').selectAll().where('link_id', '=', linkId).executeTakeFirst();
}

/** Uses of links past their expiry: an expired link is refused as expired anyway. */
export async function removeExpiredLinkUses(db: Db, now: number): Promise<number> {
  const r = await db.deleteFrom('link_uses').where('expires_at', '<', now).executeTakeFirst();
  return Number(r.numDeletedRows);
}
