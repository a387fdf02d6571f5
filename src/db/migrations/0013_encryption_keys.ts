import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

/**
 * The encryption key store: S/MIME certificates and OpenPGP keys of internal and
 * external addresses, in one table. Private halves (internal addresses, the internal
 * CA) are sealed with the master key; external ones have none.
 */
export const m0013_encryption_keys: Migration = {
  version: 13,
  name: 'encryption keys and certificates (S/MIME and OpenPGP), private halves sealed with the master key',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('encryption_keys')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('subject', 'text')
      .addColumn('issuer', 'text')
      .addColumn('public_material', 'text', (c) => c.notNull())
      .addColumn('private_material', 'text')
      .addColumn('is_ca', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('not_before', 'bigint')
      .addColumn('not_after', 'bigint')
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('encryption_keys_kind_address_fp', ['kind', 'address', 'fingerprint'])
      .execute();
    await db.schema.createIndex('encryption_keys_address').ifNotExists().on('encryption_keys').columns(['address', 'kind']).execute();
    await db.schema.createIndex('encryption_keys_not_after').ifNotExists().on('encryption_keys').columns(['not_after']).execute();
  },
};
