import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';
import { EXAMPLE_RULES } from '../../pipeline/filter/rules/examples.ts';

export const m0006_quarantine_rules: Migration = {
  version: 6,
  name: 'quarantine store index and message rules (with disabled examples)',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('quarantine')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .addColumn('held_at', 'bigint', (c) => c.notNull())
      .addColumn('direction', 'text', (c) => c.notNull())
      .addColumn('mail_from', 'text', (c) => c.notNull())
      .addColumn('header_from', 'text')
      .addColumn('subject', 'text')
      .addColumn('message_id_header', 'text')
      .addColumn('category', 'text', (c) => c.notNull())
      .addColumn('score', 'real')
      .addColumn('symbols', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('file', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('quarantine_held_at').ifNotExists().on('quarantine').column('held_at').execute();
    await db.schema.createIndex('quarantine_message').ifNotExists().on('quarantine').column('message_id').execute();
    await db.schema
      .createTable('quarantine_recipients')
      .ifNotExists()
      .addColumn('quarantine_id', 'text', (c) => c.notNull())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('released_at', 'bigint')
      .addColumn('released_as', 'text')
      .addPrimaryKeyConstraint('quarantine_recipients_pk', ['quarantine_id', 'address'])
      .execute();
    await db.schema.createIndex('quarantine_recipients_address').ifNotExists().on('quarantine_recipients').column('address').execute();

    await db.schema
      .createTable('message_rules')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('description', 'text')
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(100))
      .addColumn('match', 'text', (c) => c.notNull().defaultTo('all'))
      .addColumn('conditions', 'text', (c) => c.notNull())
      .addColumn('actions', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    // The shipped examples, disabled; an admin's edits (same name) are never overwritten.
    const now = Date.now();
    for (const r of EXAMPLE_RULES) {
      await db
        .insertInto('message_rules')
        .values({
          name: r.name,
          description: r.description,
          enabled: 0,
          priority: r.priority,
          match: r.match,
          conditions: JSON.stringify(r.conditions),
          actions: JSON.stringify(r.actions),
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
    }
  },
};
