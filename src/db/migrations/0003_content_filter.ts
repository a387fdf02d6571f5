import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Migration } from './index.ts';

// Content filtering: named policies (Hermes's SVF policies) with their assignments, allow
// and block lists (global and per recipient), and the Bayes classifier's state.
export const m0003_content_filter: Migration = {
  version: 3,
  name: 'content filter: policies and assignments, allow/block lists, Bayes tables',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('filter_policies')
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('description', 'text')
      // Spam score thresholds; null switches that level off.
      .addColumn('tag_score', 'real')
      .addColumn('quarantine_score', 'real')
      .addColumn('reject_score', 'real')
      // Action per category: deliver | tag | quarantine | reject | discard.
      .addColumn('spam_action', 'text', (c) => c.notNull())
      .addColumn('malware_action', 'text', (c) => c.notNull())
      .addColumn('banned_action', 'text', (c) => c.notNull())
      .addColumn('badheader_action', 'text', (c) => c.notNull())
      .addColumn('subject_tag', 'text', (c) => c.notNull())
      .addColumn('spam_checks', 'integer', (c) => c.notNull().defaultTo(1))
      // Named file rule set (banned attachments); null: the attachment stage's default.
      .addColumn('file_rules', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();

    // scope 'recipient' (target = address), 'domain' (target = domain) or 'default' (target '').
    await db.schema
      .createTable('filter_policy_assignments')
      .ifNotExists()
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('policy', 'text', (c) => c.notNull().references('filter_policies.name').onDelete('restrict'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('filter_policy_assignments_pk', ['scope', 'target'])
      .execute();

    // list: 'allow-all' (sender, skips every check), 'allow' (sender, skips spam checks),
    // 'recipient-allow' (recipient, skips spam checks), 'block' (sender, rejected).
    // owner: '' for the global lists, else the recipient address or domain it belongs to.
    // kind: 'address' | 'domain' | 'network'.
    await db.schema
      .createTable('filter_lists')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('list', 'text', (c) => c.notNull())
      .addColumn('owner', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('comment', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('filter_lists_entry', ['list', 'owner', 'value'])
      .execute();
    await db.schema.createIndex('filter_lists_owner').ifNotExists().on('filter_lists').columns(['owner', 'list']).execute();

    await db.schema
      .createTable('bayes_tokens')
      .ifNotExists()
      .addColumn('token', 'text', (c) => c.primaryKey())
      .addColumn('spam', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('ham', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('atime', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('bayes_tokens_atime').ifNotExists().on('bayes_tokens').column('atime').execute();
    await db.schema
      .createTable('bayes_learned')
      .ifNotExists()
      .addColumn('digest', 'text', (c) => c.primaryKey())
      .addColumn('class', 'text', (c) => c.notNull())
      .addColumn('learned_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('bayes_totals')
      .ifNotExists()
      .addColumn('class', 'text', (c) => c.primaryKey())
      .addColumn('messages', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await sql`INSERT INTO bayes_totals (class, messages) VALUES ('spam', 0), ('ham', 0) ON CONFLICT (class) DO NOTHING`.execute(db);

    // The default policy exists from the start, with Hermes's thresholds (tag 2, quarantine 5, reject 15).
    const now = Date.now();
    await db
      .insertInto('filter_policies')
      .values({
        name: 'default',
        description: 'Applies to every recipient without a policy of its own',
        tag_score: 2,
        quarantine_score: 5,
        reject_score: 15,
        spam_action: 'quarantine',
        malware_action: 'reject',
        banned_action: 'reject',
        badheader_action: 'deliver',
        subject_tag: '[SUSPECTED SPAM]',
        spam_checks: 1,
        file_rules: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    await db
      .insertInto('filter_policy_assignments')
      .values({ scope: 'default', target: '', policy: 'default', created_at: now })
      .onConflict((oc) => oc.columns(['scope', 'target']).doNothing())
      .execute();
  },
};
