// Fixed-window counters in the database, so every worker (and every node) counts the same hits.
import { sql } from 'kysely';
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
    // count + 1 in SQL: two nodes hitting the same key at once both count.
    await trx.updateTable('rate_limits').set({ count: sql<number>`count + 1` }).where('key', '=', key).execute();
    return Number(row.count) + 1;
  });
}

/** The hits on `key` in its current window, without counting one. */
export async function rateLimitCount(db: Db, key: string, windowMs: number, now = Date.now()): Promise<number> {
  const row = await db.selectFrom('rate_limits').select(['window_start', 'count']).where('key', '=', key).executeTakeFirst();
  return row && Number(row.window_start) + windowMs > now ? Number(row.count) : 0;
}

export async function removeStaleRateLimits(db: Db, before: number): Promise<void> {
  await db.deleteFrom('rate_limits').where('window_start', '<', before).execute();
}
