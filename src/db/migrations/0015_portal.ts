import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

// The user portal, its one-click links, quarantine digests and notifications:
//  - gateway_secrets: keys the gateway makes once (the link-signing key), sealed by the master key;
//  - link_uses: every action link used (its id), so a link works once;
//  - rate_limits: fixed-window counters (link opens per client address, ...);
//  - recipient_prefs: a recipient's digest frequency, language and last digest;
//  - portal_delegations: addresses (shared mailboxes) an admin delegates to a portal user;
//  - release_requests: a user's request to release what users may not release (malware);
//  - job_runs: one row per periodic job, its lock (cluster-safe) and watermark;
//  - notifications_sent: when an admin notification was last sent, so one cause mails once a day.
export const m0015_portal: Migration = {
  version: 15,
  name: 'user portal, action links, digests and notifications',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('gateway_secrets')
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('link_uses')
      .ifNotExists()
      .addColumn('link_id', 'text', (c) => c.primaryKey())
      .addColumn('used_at', 'bigint', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('quarantine_id', 'text')
      .addColumn('recipient', 'text', (c) => c.notNull())
      // Kept until then (a used link is refused as used, later as expired).
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('address', 'text')
      .execute();
    await db.schema.createIndex('link_uses_expires').ifNotExists().on('link_uses').column('expires_at').execute();
    await db.schema
      .createTable('rate_limits')
      .ifNotExists()
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('window_start', 'bigint', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('recipient_prefs')
      .ifNotExists()
      .addColumn('address', 'text', (c) => c.primaryKey())
      // null: the policy's (setting digest.frequency).
      .addColumn('digest_frequency', 'text')
      .addColumn('language', 'text')
      .addColumn('last_digest_at', 'bigint')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('portal_delegations')
      .ifNotExists()
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('portal_delegations_pk', ['user_id', 'address'])
      .execute();
    await db.schema.createIndex('portal_delegations_address').ifNotExists().on('portal_delegations').column('address').execute();
    await db.schema
      .createTable('release_requests')
      .ifNotExists()
      .addColumn('quarantine_id', 'text', (c) => c.notNull())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('requested_by', 'text', (c) => c.notNull())
      .addColumn('requested_at', 'bigint', (c) => c.notNull())
      .addColumn('comment', 'text')
      .addPrimaryKeyConstraint('release_requests_pk', ['quarantine_id', 'address'])
      .execute();
    await db.schema
      .createTable('job_runs')
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('locked_by', 'text')
      .addColumn('locked_until', 'bigint', (c) => c.notNull())
      .addColumn('last_started_at', 'bigint')
      .addColumn('last_finished_at', 'bigint')
      // Job-defined progress marker (e.g. the newest hold already notified).
      .addColumn('watermark', 'bigint')
      .addColumn('last_result', 'text')
      .execute();
    await db.schema
      .createTable('notifications_sent')
      .ifNotExists()
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('sent_at', 'bigint', (c) => c.notNull())
      .execute();
    // The digest job looks up each recipient's holds newer than its last digest.
    await db.schema.createIndex('quarantine_recipients_address_state').ifNotExists().on('quarantine_recipients').columns(['address', 'state']).execute();
  },
};
