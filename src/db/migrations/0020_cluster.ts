import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

/**
 * Several gateway nodes on one database: a recipient being delivered carries a lease
 * (which node, until when) so every node can work the queue and a dead node's mail is
 * taken over when its leases run out; message bytes can live in the database (chunked)
 * so every node reads them; each node records a heartbeat for `hermes status`.
 */
export const m0020_cluster: Migration = {
  version: 20,
  name: 'queue leases, message bytes in the database, cluster nodes',
  async up(db: Kysely<any>) {
    await db.schema.alterTable('recipients').addColumn('lease_owner', 'text').execute().catch(ignoreDuplicateColumn);
    await db.schema.alterTable('recipients').addColumn('lease_until', 'bigint').execute().catch(ignoreDuplicateColumn);
    await db.schema.createIndex('recipients_lease_owner').ifNotExists().on('recipients').column('lease_owner').execute();
    await db.schema
      .createTable('message_bytes')
      .ifNotExists()
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('data', 'blob', (c) => c.notNull())
      .addPrimaryKeyConstraint('message_bytes_pk', ['message_id', 'seq'])
      .execute();
    await db.schema
      .createTable('cluster_nodes')
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('hostname', 'text', (c) => c.notNull())
      .addColumn('pid', 'integer', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
      .addColumn('leases', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};

/** An interrupted upgrade is run again: a column already added is not an error. */
function ignoreDuplicateColumn(err: unknown): void {
  const msg = String((err as Error)?.message ?? err);
  if (/duplicate column|already exists/i.test(msg)) return;
  throw err;
}
