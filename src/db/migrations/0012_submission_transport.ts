import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

// Authenticated submission and transport security: app passwords and the sender
// addresses of each user (who may send as whom on 587/465), the TLS level per
// destination domain, the MTA-STS policy cache, and greylisting triplets.
export const m0012_submission_transport: Migration = {
  version: 12,
  name: 'submission: app passwords, sender addresses; outbound TLS policies, MTA-STS cache; greylist',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('app_passwords')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      // SHA-256 of a generated high-entropy secret (never chosen by a person).
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint')
      .addColumn('last_used_address', 'text')
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema.createIndex('app_passwords_user').ifNotExists().on('app_passwords').column('user_id').execute();
    await db.schema
      .createTable('sender_addresses')
      .ifNotExists()
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      // Lower case; "*@domain" for every address of a domain.
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('sender_addresses_pk', ['user_id', 'address'])
      .execute();
    await db.schema
      .createTable('tls_policies')
      .ifNotExists()
      .addColumn('domain', 'text', (c) => c.primaryKey())
      // none | may | encrypt | verify | dane
      .addColumn('level', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('mta_sts_policies')
      .ifNotExists()
      .addColumn('domain', 'text', (c) => c.primaryKey())
      .addColumn('policy_id', 'text', (c) => c.notNull())
      .addColumn('mode', 'text', (c) => c.notNull())
      .addColumn('mx_json', 'text', (c) => c.notNull())
      .addColumn('max_age', 'bigint', (c) => c.notNull())
      .addColumn('fetched_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('greylist')
      .ifNotExists()
      // "<client network>|<sender>|<recipient>"
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('first_seen', 'bigint', (c) => c.notNull())
      .addColumn('passed_at', 'bigint')
      .addColumn('last_seen', 'bigint', (c) => c.notNull())
      .execute();
  },
};
