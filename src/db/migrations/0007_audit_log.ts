import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

export const m0007_audit_log: Migration = {
  version: 7,
  name: 'audit log of every change (console, API, CLI)',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('audit_log')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('actor_kind', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text', (c) => c.notNull())
      .addColumn('actor_name', 'text', (c) => c.notNull())
      .addColumn('address', 'text')
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target_type', 'text', (c) => c.notNull())
      .addColumn('target_id', 'text', (c) => c.notNull())
      // The domain the change is about (domain administrators see their own entries).
      .addColumn('domain', 'text')
      .addColumn('before_json', 'text')
      .addColumn('after_json', 'text')
      .execute();
    await db.schema.createIndex('audit_log_at').ifNotExists().on('audit_log').column('at').execute();
    await db.schema.createIndex('audit_log_target').ifNotExists().on('audit_log').columns(['target_type', 'target_id']).execute();
    await db.schema.createIndex('audit_log_actor').ifNotExists().on('audit_log').columns(['actor_name', 'id']).execute();
  },
};
