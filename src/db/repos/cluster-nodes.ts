// The gateway processes sharing this database, each with its last heartbeat (hermes
// status lists them; a node whose heartbeat stopped is down or cut off).
import type { Db } from '../database.ts';
import type { ClusterNodesTable } from '../schema.ts';

export type ClusterNode = ClusterNodesTable;

export async function recordHeartbeat(db: Db, n: ClusterNode): Promise<void> {
  await db
    .insertInto('cluster_nodes')
    .values(n)
    .onConflict((oc) => oc.column('name').doUpdateSet({ hostname: n.hostname, pid: n.pid, version: n.version, started_at: n.started_at, heartbeat_at: n.heartbeat_at, leases: n.leases }))
    .execute();
}

/** Recipients each owner holds a lease on now. */
export async function leasesByOwner(db: Db, now = Date.now()): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('recipients')
    .select(['lease_owner', (eb) => eb.fn.countAll<number>().as('n')])
    .where('lease_owner', 'is not', null)
    .where('lease_until', '>=', now)
    .where('status', 'in', ['queued', 'deferred'])
    .groupBy('lease_owner')
    .execute();
  return new Map(rows.map((r) => [r.lease_owner!, Number(r.n)]));
}

export async function countOwnLeases(db: Db, owner: string): Promise<number> {
  const r = await db
    .selectFrom('recipients')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('lease_owner', '=', owner)
    .where('status', 'in', ['queued', 'deferred'])
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

export function listClusterNodes(db: Db): Promise<ClusterNode[]> {
  return db.selectFrom('cluster_nodes').selectAll().orderBy('name').execute();
}

/** Forgets nodes silent for longer than `olderThanMs` (renamed or retired machines). */
export async function forgetSilentNodes(db: Db, olderThanMs: number, now = Date.now()): Promise<number> {
  const r = await db.deleteFrom('cluster_nodes').where('heartbeat_at', '<', now - olderThanMs).executeTakeFirst();
  return Number(r.numDeletedRows);
}
