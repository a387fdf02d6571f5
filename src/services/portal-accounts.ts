// Portal accounts: users with role "user" named by their address. They are made by an
// administrator's invitation (`hermes portal invite`), or by the recipient following a
// digest's sign-in link when portal.selfEnrol allows it (the link proves the mailbox is
// theirs). Either way the password is the user's own, set from a one-time link; until
// then the account holds an unusable random one.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { addDelegation, delegatedAddresses, removeDelegation } from '../db/repos/portal-users.ts';
import { findUserByName, insertUser, updateUser } from '../db/repos/users.ts';
import type { UserRow } from '../db/schema.ts';
import { PORTAL_ROLE, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { randomSecret } from './secret-tokens.ts';
import { ServiceError } from './service-error.ts';
import { checkPasswordPolicy, hashPassword } from './user-service.ts';

const ADDRESS = /^[^\s@<>"]{1,64}@[a-z0-9.-]{1,253}\.[a-z0-9-]{2,63}$/;

export function checkAddress(address: string): string {
  const a = address.trim().toLowerCase();
  if (!ADDRESS.test(a)) throw new ServiceError('invalid', `"${address}" is not a mail address`, { address: 'invalid' });
  return a;
}

/** The portal account of `address`, made (with an unusable password) when there is none. */
export async function ensurePortalAccount(db: Db, actor: Actor, address: string): Promise<{ user: UserRow; created: boolean }> {
  const username = checkAddress(address);
  const found = await findUserByName(db, username);
  if (found) {
    if (found.role !== PORTAL_ROLE) throw new ServiceError('conflict', `${username} is an administrator account: administrators use the console, not the portal`);
    return { user: found, created: false };
  }
  const now = Date.now();
  const row: UserRow = {
    id: randomUUID(),
    username,
    role: PORTAL_ROLE,
    domains_json: '[]',
    password_hash: await hashPassword(randomSecret(32)),
    must_change_password: 1,
    totp_secret_sealed: null,
    totp_enabled: 0,
    recovery_codes_json: null,
    totp_last_step: null,
    disabled: 0,
    created_at: now,
    updated_at: now,
    last_login_at: null,
    last_login_address: null,
  };
  await db.transaction().execute(async (trx) => {
    await insertUser(trx, row);
    await recordChange(trx, actor, { action: 'portal.account-create', targetType: 'user', targetId: row.id, domain: username.split('@')[1] ?? null, after: { username, role: PORTAL_ROLE } });
  });
  return { user: row, created: true };
}

/** Sets the password of the link's holder (invitation or first sign-in). */
export async function setPasswordFromLink(db: Db, actor: Actor, user: UserRow, password: string, confirm: string): Promise<UserRow> {
  if (password !== confirm) throw new ServiceError('invalid', 'the two passwords differ', { confirm: 'differs' });
  checkPasswordPolicy(user.username, password);
  const hash = await hashPassword(password);
  const after = { ...user, password_hash: hash, must_change_password: 0, updated_at: Date.now() };
  await db.transaction().execute(async (trx) => {
    await updateUser(trx, user.id, { password_hash: hash, must_change_password: 0, updated_at: after.updated_at });
    await recordChange(trx, actor, { action: 'portal.set-password', targetType: 'user', targetId: user.id, domain: user.username.split('@')[1] ?? null });
  });
  return after;
}

export async function delegateAddress(db: Db, actor: Actor, username: string, address: string, remove = false): Promise<string[]> {
  const user = await findUserByName(db, checkAddress(username));
  if (!user || user.role !== PORTAL_ROLE) throw new ServiceError('not_found', `no portal account ${username} (invite it first: hermes portal invite ${username})`);
  const a = checkAddress(address);
  if (remove) {
    if (!(await removeDelegation(db, user.id, a))) throw new ServiceError('not_found', `${a} is not delegated to ${user.username}`);
  } else await addDelegation(db, user.id, a);
  await recordChange(db, actor, { action: remove ? 'portal.undelegate' : 'portal.delegate', targetType: 'user', targetId: user.id, domain: a.split('@')[1] ?? null, after: { address: a } });
  return delegatedAddresses(db, user.id);
}
