// A recipient's own choices (digest frequency, language) and when its last digest went out.
import type { Db } from '../database.ts';
import type { DigestFrequency, RecipientPrefsRow } from '../schema.ts';

export async function getRecipientPrefs(db: Db, address: string): Promise<RecipientPrefsRow | undefined> {
  return db.selectFrom('recipient_prefs').selectAll().where('address', '=', address.toLowerCase()).executeTakeFirst();
}

export async function prefsFor(db: Db, addresses: string[]): Promise<Map<string, RecipientPrefsRow>> {
  if (!addresses.length) return new Map();
  const rows = await db.selectFrom('recipient_prefs').selectAll().where('address', 'in', addresses).execute();
  return new Map(rows.map((r) => [r.address, r]));
}

export async function saveRecipientPrefs(db: Db, address: string, p: { digest_frequency?: DigestFrequency | null; language?: string | null }): Promise<void> {
  const now = Date.now();
  const a = address.toLowerCase();
  await db
    .insertInto('recipient_prefs')
    .values({ address: a, digest_frequency: p.digest_frequency ?? null, language: p.language ?? null, last_digest_at: null, updated_at: now })
    .onConflict((oc) => oc.column('address').doUpdateSet({ ...p, updated_at: now }))
    .execute();
}

/** Marks a digest sent to each of `addresses` at `at`, in one statement. */
export async function markDigestsSent(db: Db, addresses: readonly string[], at: number): Promise<void> {
  if (!addresses.length) return;
  await db
    .insertInto('recipient_prefs')
    .values(addresses.map((address) => ({ address, digest_frequency: null, language: null, last_digest_at: at, updated_at: at })))
    .onConflict((oc) => oc.column('address').doUpdateSet({ last_digest_at: at }))
    .execute();
}
