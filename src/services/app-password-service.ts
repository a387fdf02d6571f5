// App passwords: secrets a user's mail client signs in with on the submission ports
// (587/465) instead of the console password. Generated (never chosen), shown once,
// stored as SHA-256, revocable one by one. An administrator (users.write) manages
// anyone's; a signed-in user their own. A user with two-factor authentication needs one:
// SMTP has no second factor, so the console password alone does not open submission.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { findAppPassword, insertAppPassword, listAppPasswords, revokeAppPassword } from '../db/repos/app-passwords.ts';
import { findUserById, findUserByName } from '../db/repos/users.ts';
import type { AppPasswordRow, UserRow } from '../db/schema.ts';
import { can, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { generatePassword, sha256Hex } from './secret-tokens.ts';
import { ServiceError } from './service-error.ts';

export interface AppPasswordInfo {
  id: string;
  user: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  lastUsedAddress: string | null;
}

const MAX_PER_USER = 50;
const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

function toInfo(r: AppPasswordRow, username: string): AppPasswordInfo {
  return { id: r.id, user: username, name: r.name, createdAt: iso(r.created_at)!, lastUsedAt: iso(r.last_used_at), lastUsedAddress: r.last_used_address };
}

/** The account acted on: anyone's for users.write (or .read to list), one's own otherwise. */
export async function accountFor(db: Db, actor: Actor, idOrName: string, permission: 'users.read' | 'users.write', selfAllowed = true): Promise<UserRow> {
  const row = (await findUserById(db, idOrName)) ?? (await findUserByName(db, idOrName));
  const own = selfAllowed && actor.kind === 'user' && row?.id === actor.id;
  if (!own && !can(actor, permission)) throw new ServiceError('forbidden', `your role (${actor.role}) may only manage your own mail client passwords`);
  if (!row) throw new ServiceError('not_found', `no user ${idOrName}`);
  return row;
}

export async function listUserAppPasswords(db: Db, actor: Actor, user: string): Promise<AppPasswordInfo[]> {
  const u = await accountFor(db, actor, user, 'users.read');
  return (await listAppPasswords(db, u.id)).map((r) => toInfo(r, u.username));
}

/** A new app password; the secret is in the answer only, this once. */
export async function createAppPassword(db: Db, actor: Actor, user: string, name: string): Promise<{ appPassword: AppPasswordInfo; password: string }> {
  const label = name.trim();
  if (!label || label.length > 64) throw new ServiceError('invalid', 'an app password needs a name of 1 to 64 characters (e.g. "phone" or "Thunderbird")', { name: 'required, at most 64 characters' });
  const password = generatePassword(24);
  return db.transaction().execute(async (trx) => {
    const u = await accountFor(trx, actor, user, 'users.write');
    const existing = await listAppPasswords(trx, u.id);
    if (existing.length >= MAX_PER_USER) throw new ServiceError('conflict', `${u.username} has ${MAX_PER_USER} app passwords already: revoke one first`);
    if (existing.some((p) => p.name.toLowerCase() === label.toLowerCase())) throw new ServiceError('conflict', `${u.username} has an app password named "${label}" already`, { name: 'taken' });
    const row: AppPasswordRow = { id: randomUUID(), user_id: u.id, name: label, secret_hash: sha256Hex(password), created_at: Date.now(), last_used_at: null, last_used_address: null, revoked_at: null };
    await insertAppPassword(trx, row);
    const info = toInfo(row, u.username);
    await recordChange(trx, actor, { action: 'app-password.create', targetType: 'user', targetId: u.id, after: info });
    return { appPassword: info, password };
  });
}

export async function revokeUserAppPassword(db: Db, actor: Actor, user: string, idOrName: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const u = await accountFor(trx, actor, user, 'users.write');
    const rows = await listAppPasswords(trx, u.id);
    const row = rows.find((r) => r.id === idOrName) ?? rows.find((r) => r.name.toLowerCase() === idOrName.trim().toLowerCase()) ?? (await findAppPassword(trx, idOrName));
    if (!row || row.user_id !== u.id || row.revoked_at !== null) throw new ServiceError('not_found', `${u.username} has no app password ${idOrName}`);
    await revokeAppPassword(trx, row.id, Date.now());
    await recordChange(trx, actor, { action: 'app-password.revoke', targetType: 'user', targetId: u.id, before: toInfo(row, u.username) });
  });
}
