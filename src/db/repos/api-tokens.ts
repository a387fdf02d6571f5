// API tokens: only the SHA-256 of the secret is kept.
import type { Insertable, Updateable } from 'kysely';
import type { Db } from '../database.ts';
import type { ApiTokenRow, ApiTokensTable } from '../schema.ts';

export async function insertApiToken(db: Db, row: Insertable<ApiTokensTable>): Promise<void> {
  await db.insertInto('api_tokens').values(row).execute();
}

export async function findApiToken(db: Db, id: string): Promise<ApiTokenRow | undefined> {
  return db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateApiToken(db: Db, id: string, changes: Updateable<ApiTokensTable>): Promise<void> {
  await db.updateTable('api_tokens').set(changes).where('id', '=', id).execute();
}

/** Newest first, before `beforeCreated` / id (keyset cursor). */
export async function listApiTokens(db: Db, f: { before?: { createdAt: number; id: string }; includeRevoked?: boolean }, limit: number): Promise<ApiTokenRow[]> {
  let q = db.selectFrom('api_tokens').selectAll();
  if (!f.includeRevoked) q = q.where('revoked_at', 'is', null);
  const b = f.before;
  if (b) q = q.where((eb) => eb.or([eb('created_at', '<', b.createdAt), eb.and([eb('created_at', '=', b.createdAt), eb('id', '<', b.id)])]));
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}
