// Fixed-window counters in the database, so every worker counts the same hits.
import type { Db } from '../database.ts';
import { inTransaction } from '../transaction.ts';

/** Counts one hit on `key`; returns the hits in the current window (this one included). */
export async function hitRateLimit(db: Db, key: string, windowMs: number, now = Date.now()): Promise<number> {
  return inTransaction(db, async (trx) => {
    const row = await trx.selectFrom('rate_limits').selectAll().where('key', '=', key).executeTakeFirst();
    if (!row || Number(row.window_start) + windowMs <= now) {
      await trx
        .insertInto('rate_limits')
        .values({ key, window_start: now, count: 1 })
        .onConflict((oc) => oc.column('key').doUpdateSet({ window_start: now, count: 1 }))
        .execute();
      return 1;
    }
    await trx.updateTable('rate_limits').set({ count: row.count + 1 }).where('key', '=', key).execute();
    return row.count + 1;
  });
}

export async function removeStaleRateLimits(db: Db, before: number): Promise<void> {
  await db.deleteFrom('rate_limits').where('window_start', '<', before).execute();
}
