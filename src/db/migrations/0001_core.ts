import type { Kysely } from 'kysely';
import type { Migration } from './index.ts';

export const m0001_core: Migration = {
  version: 1,
  name: 'core: messages, recipients, events, relay policy, settings',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('messages')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .addColumn('node', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('direction', 'text', (c) => c.notNull())
      .addColumn('client_ip', 'text')
      .addColumn('client_helo', 'text')
      .addColumn('client_ptr', 'text')
      .addColumn('tls', 'text')
      .addColumn('mail_from', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('message_id', 'text')
      .addColumn('subject', 'text')
      .addColumn('spool_file', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('parent_id', 'text')
      .addColumn('done_at', 'bigint')
      .execute();
    await db.schema.createIndex('messages_received_at').ifNotExists().on('messages').column('received_at').execute();
    await db.schema.createIndex('messages_state').ifNotExists().on('messages').columns(['state', 'node']).execute();
    await db.schema.createIndex('messages_message_id').ifNotExists().on('messages').column('message_id').execute();

    await db.schema
      .createTable('recipients')
      .ifNotExists()
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('domain', 'text', (c) => c.notNull())
      .addColumn('route', 'text', (c) => c.notNull())
      .addColumn('require_tls', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('first_attempt_at', 'bigint')
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('last_reply', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('recipients_pk', ['message_id', 'idx'])
      .execute();
    await db.schema.createIndex('recipients_message').ifNotExists().on('recipients').column('message_id').execute();
    await db.schema.createIndex('recipients_due').ifNotExists().on('recipients').columns(['status', 'next_attempt_at']).execute();
    await db.schema.createIndex('recipients_address').ifNotExists().on('recipients').column('address').execute();

    await db.schema
      .createTable('events')
      .ifNotExists()
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('recipient', 'text')
      .addColumn('detail', 'text')
      .execute();
    await db.schema.createIndex('events_message').ifNotExists().on('events').column('message_id').execute();

    await db.schema
      .createTable('relay_domains')
      .ifNotExists()
      .addColumn('domain', 'text', (c) => c.primaryKey())
      .addColumn('next_hop', 'text')
      .addColumn('require_tls', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('recipient_mode', 'text', (c) => c.notNull().defaultTo('any'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('relay_recipients')
      .ifNotExists()
      .addColumn('pattern', 'text', (c) => c.primaryKey())
      .addColumn('domain', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('relay_networks')
      .ifNotExists()
      .addColumn('cidr', 'text', (c) => c.primaryKey())
      .addColumn('description', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('settings')
      .ifNotExists()
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  },
};
