import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

// Console and API accounts: users, their sessions, API tokens and the login throttle.
// Secrets are never stored as given: passwords as argon2id hashes, session ids, token
// secrets and recovery codes as SHA-256 hashes, the TOTP secret sealed by the master key.
export const m0008_accounts: Migration = {
  version: 8,
  name: 'accounts: users, sessions, API tokens, login throttle',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('users')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('username', 'text', (c) => c.notNull().unique())
      .addColumn('role', 'text', (c) => c.notNull())
      // JSON array of domains for a domain administrator; null = every domain.
      .addColumn('domains_json', 'text')
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('must_change_password', 'integer', (c) => c.notNull().defaultTo(0))
      // Sealed (master key); set at enrolment, enabled once a code confirmed it.
      .addColumn('totp_secret_sealed', 'text')
      .addColumn('totp_enabled', 'integer', (c) => c.notNull().defaultTo(0))
      // JSON array of SHA-256 hashes of the unused recovery codes.
      .addColumn('recovery_codes_json', 'text')
      .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('last_login_at', 'bigint')
      .addColumn('last_login_address', 'text')
      .execute();
    await db.schema
      .createTable('sessions')
      .ifNotExists()
      // SHA-256 of the cookie value: a copy of the table does not give sessions away.
      .addColumn('id_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('csrf_token', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('address', 'text')
      .addColumn('user_agent', 'text')
      .execute();
    await db.schema.createIndex('sessions_user').ifNotExists().on('sessions').column('user_id').execute();
    await db.schema
      .createTable('api_tokens')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('domains_json', 'text')
      .addColumn('expires_at', 'bigint')
      // JSON array of CIDRs the token may be used from; null = anywhere.
      .addColumn('allowed_cidrs_json', 'text')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint')
      .addColumn('last_used_address', 'text')
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema
      .createTable('login_throttle')
      .ifNotExists()
      // "account:<username>" or "address:<ip>"
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('first_failure_at', 'bigint', (c) => c.notNull())
      .addColumn('locked_until', 'bigint')
      // How many times it was locked in a row: each lock lasts longer.
      .addColumn('lock_count', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
