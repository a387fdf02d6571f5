// How many messages the quarantine holds, for the metrics.
import type { Db } from '../database.ts';

export async function heldQuarantineCount(db: Db): Promise<number> {
  const row = await db.selectFrom('quarantine').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', 'held').executeTakeFirst();
  return Number(row?.n ?? 0);
}
