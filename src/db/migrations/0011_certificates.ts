import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

/**
 * TLS certificates the listeners serve (imported, from a CSR, or from ACME), the ACME
 * accounts and the http-01 answers every worker serves, and the smarthost's login.
 * Private keys and passwords are sealed with the master key.
 */
export const m0011_certificates: Migration = {
  version: 11,
  name: 'TLS certificates, ACME accounts and challenges, smarthost credentials',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('certificates')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      // Random id: the associated data of the sealed key (a key cannot move to another row).
      .addColumn('key_ref', 'text', (c) => c.notNull().unique())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('names_json', 'text', (c) => c.notNull())
      .addColumn('key_sealed', 'text', (c) => c.notNull())
      .addColumn('key_type', 'text', (c) => c.notNull())
      .addColumn('csr_pem', 'text')
      .addColumn('cert_pem', 'text')
      .addColumn('subject', 'text')
      .addColumn('issuer', 'text')
      .addColumn('serial_number', 'text')
      .addColumn('fingerprint', 'text')
      .addColumn('not_before', 'bigint')
      .addColumn('not_after', 'bigint')
      .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('acme_directory', 'text')
      .addColumn('acme_challenge', 'text')
      .addColumn('renew_failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_renew_attempt', 'bigint')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('certificates_status').ifNotExists().on('certificates').columns(['status', 'not_after']).execute();
    await db.schema
      .createTable('acme_accounts')
      .ifNotExists()
      .addColumn('directory_url', 'text', (c) => c.primaryKey())
      .addColumn('key_sealed', 'text', (c) => c.notNull())
      .addColumn('account_url', 'text')
      .addColumn('email', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('acme_challenges')
      .ifNotExists()
      .addColumn('token', 'text', (c) => c.primaryKey())
      .addColumn('key_authorization', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('smarthost_credentials')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('password_sealed', 'text', (c) => c.notNull())
      .addColumn('tls', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
