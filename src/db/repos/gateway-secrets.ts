// Keys the gateway makes for itself once (the action-link key), sealed by the master key.
import type { Db } from '../database.ts';

/** The sealed value of `name`, creating it with `make()` when absent; every worker ends up with the same one. */
export async function ensureGatewaySecret(db: Db, name: string, make: () => string): Promise<string> {
  const found = await db.selectFrom('gateway_secrets').select('sealed').where('name', '=', name).executeTakeFirst();
  if (found) return found.sealed;
  // Two processes may race here: the first insert wins, the other reads the winner's.
  await db.insertInto('gateway_secrets').values({ name, sealed: make(), created_at: Date.now() }).onConflict((oc) => oc.column('name').doNothing()).execute();
  return (await db.selectFrom('gateway_secrets').select('sealed').where('name', '=', name).executeTakeFirstOrThrow()).sealed;
}
