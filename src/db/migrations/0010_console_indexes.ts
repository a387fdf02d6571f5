import { sql, type Kysely } from 'kysely';
import type { Migration } from './index.ts';

/** Indexes for the console's lists and searches: each filter starts from an index, keyset order included. */
export const m0010_console_indexes: Migration = {
  version: 10,
  name: 'indexes for trace search, queue and quarantine lists',
  async up(db: Kysely<any>) {
    await db.schema.createIndex('messages_received_id').ifNotExists().on('messages').columns(['received_at', 'id']).execute();
    await db.schema.createIndex('messages_sender').ifNotExists().on('messages').expression(sql`lower(mail_from)`).execute();
    await db.schema.createIndex('messages_client_ip').ifNotExists().on('messages').columns(['client_ip', 'received_at']).execute();
    await db.schema.createIndex('messages_parent').ifNotExists().on('messages').column('parent_id').execute();
    await db.schema.createIndex('recipients_address_message').ifNotExists().on('recipients').columns(['address', 'message_id']).execute();
    await db.schema.createIndex('quarantine_state_held').ifNotExists().on('quarantine').columns(['state', 'held_at', 'id']).execute();
    await db.schema.createIndex('quarantine_held_id').ifNotExists().on('quarantine').columns(['held_at', 'id']).execute();
    await db.schema.createIndex('quarantine_sender').ifNotExists().on('quarantine').columns(['mail_from', 'held_at']).execute();
    await db.schema.createIndex('quarantine_category').ifNotExists().on('quarantine').columns(['category', 'held_at']).execute();
  },
};
