// The smarthost's login (one row, id 1). The password is stored sealed by the master key
// (the caller seals and opens it; this file never sees it in clear).
import { inTransaction } from '../transaction.ts';
import type { Db } from '../database.ts';
import { bumpConfigSerial } from '../../config/settings.ts';

/** starttls: STARTTLS required before AUTH (port 587/25); implicit: TLS from the first byte (port 465). */
export type SmarthostTls = 'starttls' | 'implicit';

export interface SealedSmarthostLogin {
  username: string;
  passwordSealed: string;
  tls: SmarthostTls;
  updatedAt: number;
}

/** The associated data the password is sealed with: a sealed value cannot be moved to another use. */
export const SMARTHOST_PASSWORD_AAD = 'smarthost-password:1';

export async function getSmarthostLogin(db: Db): Promise<SealedSmarthostLogin | null> {
  const r = await db.selectFrom('smarthost_credentials').selectAll().where('id', '=', 1).executeTakeFirst();
  if (!r) return null;
  return { username: r.username, passwordSealed: r.password_sealed, tls: r.tls === 'implicit' ? 'implicit' : 'starttls', updatedAt: Number(r.updated_at) };
}

export async function setSmarthostLogin(db: Db, login: { username: string; passwordSealed: string; tls: SmarthostTls }): Promise<void> {
  const now = Date.now();
  const row = { username: login.username, password_sealed: login.passwordSealed, tls: login.tls, updated_at: now };
  await inTransaction(db, async (trx) => {
    await trx.insertInto('smarthost_credentials').values({ id: 1, ...row }).onConflict((oc) => oc.column('id').doUpdateSet(row)).execute();
    await bumpConfigSerial(trx);
  });
}

export async function clearSmarthostLogin(db: Db): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const r = await trx.deleteFrom('smarthost_credentials').where('id', '=', 1).executeTakeFirst();
    await bumpConfigSerial(trx);
    return Number(r.numDeletedRows) > 0;
  });
}
