import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

export const m0002_dkim_keys: Migration = {
  version: 2,
  name: 'DKIM signing keys (encrypted with the master key), with rotation dates',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('dkim_keys')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('domain', 'text', (c) => c.notNull())
      .addColumn('selector', 'text', (c) => c.notNull())
      .addColumn('algorithm', 'text', (c) => c.notNull())
      .addColumn('bits', 'integer', (c) => c.notNull())
      .addColumn('private_key', 'text', (c) => c.notNull())
      .addColumn('dns_txt', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('activated_at', 'bigint')
      .addColumn('retired_at', 'bigint')
      .addColumn('remove_after', 'bigint')
      .addUniqueConstraint('dkim_keys_domain_selector', ['domain', 'selector'])
      .execute();
    await db.schema.createIndex('dkim_keys_status').ifNotExists().on('dkim_keys').columns(['status', 'domain']).execute();
  },
};
