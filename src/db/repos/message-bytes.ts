// Message bytes in the database (storage.messages "database", the default on PostgreSQL):
// a spool file's exact contents in chunks, written in the same transaction as the
// message's index rows, so every node sharing the database can deliver any message.
import type { Db } from '../database.ts';

/** PostgreSQL handles a bytea of any size, but a chunk bounds one row's memory on both sides. */
export const MESSAGE_CHUNK_BYTES = 1024 * 1024;

export async function insertMessageBytes(db: Db, messageId: string, bytes: Buffer): Promise<void> {
  const rows = [];
  for (let off = 0, seq = 0; off < bytes.length || seq === 0; off += MESSAGE_CHUNK_BYTES, seq++) {
    rows.push({ message_id: messageId, seq, data: bytes.subarray(off, off + MESSAGE_CHUNK_BYTES) });
  }
  // One statement per chunk: a big message's chunks never add up in one statement's parameters.
  for (const row of rows) await db.insertInto('message_bytes').values(row).execute();
}

/** The stored bytes, or null when the message has none (removed, or never stored here). */
export async function readMessageBytes(db: Db, messageId: string): Promise<Buffer | null> {
  const rows = await db.selectFrom('message_bytes').select('data').where('message_id', '=', messageId).orderBy('seq').execute();
  return rows.length ? Buffer.concat(rows.map((r) => r.data)) : null;
}

export async function deleteMessageBytes(db: Db, messageIds: string | readonly string[]): Promise<void> {
  const ids = typeof messageIds === 'string' ? [messageIds] : [...messageIds];
  if (ids.length) await db.deleteFrom('message_bytes').where('message_id', 'in', ids).execute();
}
