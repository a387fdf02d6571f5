// Console and API accounts: create, list, change role and domains, disable, delete,
// reset a password or 2FA. Passwords are argon2id hashes (@node-rs/argon2's default);
// a password an administrator sets or resets is shown once and must be changed at the
// next login. Every change is in the audit log, never a secret.
import { randomUUID } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { Db } from '../db/database.ts';
import { countAdmins, deleteUser as deleteUserRow, findUserById, findUserByName, insertUser, listUsers as listUserRows, updateUser as updateUserRow } from '../db/repos/users.ts';
import { deleteUserSessions } from '../db/repos/sessions.ts';
import type { UserRow } from '../db/schema.ts';
import { assertCan, ROLES, type Actor, type Role } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { decodeCursor, pageSize, toPage, type Page } from './page.ts';
import { generatePassword } from './secret-tokens.ts';
import { ServiceError } from './service-error.ts';

export const MIN_PASSWORD_LENGTH = 12;
const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export interface UserInfo {
  id: string;
  username: string;
  role: Role;
  domains: string[] | null;
  mustChangePassword: boolean;
  totpEnabled: boolean;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
  lastLoginAddress: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export function toUserInfo(r: UserRow): UserInfo {
  return {
    id: r.id,
    username: r.username,
    role: r.role as Role,
    domains: r.domains_json === null ? null : (JSON.parse(r.domains_json) as string[]),
    mustChangePassword: r.must_change_password === 1,
    totpEnabled: r.totp_enabled === 1,
    disabled: r.disabled === 1,
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
    lastLoginAt: iso(r.last_login_at),
    lastLoginAddress: r.last_login_address,
  };
}

/** A domain administrator needs its domains; every other role sees all domains (null). */
export function normaliseDomains(role: Role, domains: readonly string[] | null): string[] | null {
  if (role !== 'domain-admin') {
    if (domains && domains.length) throw new ServiceError('invalid', `only a domain-admin is limited to domains; a ${role} sees every domain`, { domains: 'only for domain-admin' });
    return null;
  }
  const list = [...new Set((domains ?? []).map((d) => d.trim().toLowerCase()).filter(Boolean))];
  if (!list.length) throw new ServiceError('invalid', 'a domain-admin needs at least one domain', { domains: 'required for domain-admin' });
  const bad = list.find((d) => !DOMAIN.test(d));
  if (bad) throw new ServiceError('invalid', `"${bad}" is not a domain name`, { domains: 'not a domain name' });
  return list;
}

function assertRole(role: string): asserts role is Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new ServiceError('invalid', `role must be one of ${ROLES.join(', ')}`, { role: 'unknown role' });
}

export function checkPasswordPolicy(username: string, password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new ServiceError('invalid', `the password must be at least ${MIN_PASSWORD_LENGTH} characters long`, { password: 'too short' });
  if (password.length > 1024) throw new ServiceError('invalid', 'the password is longer than 1024 characters', { password: 'too long' });
  if (password.toLowerCase().includes(username.toLowerCase())) throw new ServiceError('invalid', 'the password must not contain the user name', { password: 'contains the user name' });
}

export function hashPassword(password: string): Promise<string> {
  return hash(password); // argon2id, m=19 MiB, t=2 (OWASP's recommendation)
}

export function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  return verify(passwordHash, password);
}

export interface NewUser {
  username: string;
  role: Role;
  domains?: string[] | null;
  /** Absent: a password is generated, returned once, and must be changed at first login. */
  password?: string;
}

export async function createUser(db: Db, actor: Actor, u: NewUser): Promise<{ user: UserInfo; password?: string }> {
  assertCan(actor, 'users.write');
  const username = u.username.trim().toLowerCase();
  if (!USERNAME.test(username)) throw new ServiceError('invalid', 'a user name is 1 to 64 lower-case letters, digits or . _ @ -, starting with a letter or digit', { username: 'invalid' });
  assertRole(u.role);
  const domains = normaliseDomains(u.role, u.domains ?? null);
  const generated = u.password === undefined ? generatePassword(24) : undefined;
  const password = u.password ?? generated!;
  checkPasswordPolicy(username, password);
  const now = Date.now();
  const row: UserRow = {
    id: randomUUID(),
    username,
    role: u.role,
    domains_json: domains === null ? null : JSON.stringify(domains),
    password_hash: await hashPassword(password),
    must_change_password: generated ? 1 : 0,
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
    if (await findUserByName(trx, username)) throw new ServiceError('conflict', `a user named ${username} exists already`, { username: 'taken' });
    await insertUser(trx, row);
    await recordChange(trx, actor, { action: 'user.create', targetType: 'user', targetId: row.id, after: toUserInfo(row) });
  });
  return { user: toUserInfo(row), ...(generated ? { password: generated } : {}) };
}

async function mustFind(db: Db, idOrName: string): Promise<UserRow> {
  const row = (await findUserById(db, idOrName)) ?? (await findUserByName(db, idOrName));
  if (!row) throw new ServiceError('not_found', `no user ${idOrName}`);
  return row;
}

export async function getUser(db: Db, actor: Actor, idOrName: string): Promise<UserInfo> {
  assertCan(actor, 'users.read');
  return toUserInfo(await mustFind(db, idOrName));
}

export async function listUsers(db: Db, actor: Actor, q: { cursor?: string; limit?: number; role?: string } = {}): Promise<Page<UserInfo>> {
  assertCan(actor, 'users.read');
  const limit = pageSize(q.limit);
  const afterName = decodeCursor(q.cursor, (v): v is string => typeof v === 'string');
  return toPage(await listUserRows(db, { afterName, role: q.role }, limit + 1), limit, toUserInfo, (r) => r.username);
}

/** The last enabled administrator cannot be demoted, disabled or deleted: nobody could manage the gateway. */
async function assertNotLastAdmin(db: Db, row: UserRow): Promise<void> {
  if (row.role === 'admin' && row.disabled === 0 && (await countAdmins(db)) <= 1) {
    throw new ServiceError('conflict', `${row.username} is the last enabled administrator: create another administrator first`);
  }
}

export interface UserChanges {
  role?: Role;
  domains?: string[] | null;
  disabled?: boolean;
}

export async function updateUser(db: Db, actor: Actor, idOrName: string, c: UserChanges): Promise<UserInfo> {
  assertCan(actor, 'users.write');
  return db.transaction().execute(async (trx) => {
    const row = await mustFind(trx, idOrName);
    const role = c.role ?? (row.role as Role);
    assertRole(role);
    const domains = c.domains !== undefined || c.role !== undefined ? normaliseDomains(role, c.domains !== undefined ? c.domains : role === row.role ? (JSON.parse(row.domains_json ?? 'null') as string[] | null) : null) : (JSON.parse(row.domains_json ?? 'null') as string[] | null);
    const disabled = c.disabled === undefined ? row.disabled : c.disabled ? 1 : 0;
    if ((role !== 'admin' || disabled === 1) && row.role === 'admin') await assertNotLastAdmin(trx, row);
    const after: UserRow = { ...row, role, domains_json: domains === null ? null : JSON.stringify(domains), disabled, updated_at: Date.now() };
    await updateUserRow(trx, row.id, { role: after.role, domains_json: after.domains_json, disabled: after.disabled, updated_at: after.updated_at });
    // A changed role or a disabled account takes effect now, not at the next login.
    if (after.role !== row.role || after.domains_json !== row.domains_json || after.disabled === 1) await deleteUserSessions(trx, row.id);
    await recordChange(trx, actor, { action: 'user.update', targetType: 'user', targetId: row.id, before: toUserInfo(row), after: toUserInfo(after) });
    return toUserInfo(after);
  });
}

export async function deleteUser(db: Db, actor: Actor, idOrName: string): Promise<void> {
  assertCan(actor, 'users.write');
  await db.transaction().execute(async (trx) => {
    const row = await mustFind(trx, idOrName);
    if (actor.kind === 'user' && actor.id === row.id) throw new ServiceError('conflict', 'you cannot delete your own account');
    await assertNotLastAdmin(trx, row);
    await deleteUserRow(trx, row.id);
    await recordChange(trx, actor, { action: 'user.delete', targetType: 'user', targetId: row.id, before: toUserInfo(row) });
  });
}

/** A new temporary password, returned once; the user must change it at the next login. */
export async function resetPassword(db: Db, actor: Actor, idOrName: string): Promise<{ user: UserInfo; password: string }> {
  assertCan(actor, 'users.write');
  const password = generatePassword(24);
  const passwordHash = await hashPassword(password);
  const user = await db.transaction().execute(async (trx) => {
    const row = await mustFind(trx, idOrName);
    const after: UserRow = { ...row, password_hash: passwordHash, must_change_password: 1, updated_at: Date.now() };
    await updateUserRow(trx, row.id, { password_hash: passwordHash, must_change_password: 1, updated_at: after.updated_at });
    await deleteUserSessions(trx, row.id);
    await recordChange(trx, actor, { action: 'user.reset-password', targetType: 'user', targetId: row.id, before: toUserInfo(row), after: toUserInfo(after) });
    return toUserInfo(after);
  });
  return { user, password };
}

/** Removes 2FA (secret and recovery codes): the user enrols again at the next login if the role requires it. */
export async function resetTotp(db: Db, actor: Actor, idOrName: string): Promise<UserInfo> {
  assertCan(actor, 'users.write');
  return db.transaction().execute(async (trx) => {
    const row = await mustFind(trx, idOrName);
    const after: UserRow = { ...row, totp_secret_sealed: null, totp_enabled: 0, recovery_codes_json: null, updated_at: Date.now() };
    await updateUserRow(trx, row.id, { totp_secret_sealed: null, totp_enabled: 0, recovery_codes_json: null, updated_at: after.updated_at });
    await deleteUserSessions(trx, row.id);
    await recordChange(trx, actor, { action: 'user.reset-2fa', targetType: 'user', targetId: row.id, before: toUserInfo(row), after: toUserInfo(after) });
    return toUserInfo(after);
  });
}

/** The signed-in user changes their own password (the current one proves it is them). */
export async function changeOwnPassword(db: Db, actor: Actor, current: string, next: string, keepSessionIdHash?: string): Promise<UserInfo> {
  if (actor.kind !== 'user') throw new ServiceError('forbidden', 'only a signed-in user has a password to change; API tokens do not');
  const row = await mustFind(db, actor.id);
  if (!(await verifyPassword(row.password_hash, current))) throw new ServiceError('invalid', 'the current password is not right', { currentPassword: 'wrong' });
  checkPasswordPolicy(row.username, next);
  if (await verifyPassword(row.password_hash, next)) throw new ServiceError('invalid', 'the new password must differ from the current one', { newPassword: 'same as the current one' });
  const passwordHash = await hashPassword(next);
  return db.transaction().execute(async (trx) => {
    const after: UserRow = { ...row, password_hash: passwordHash, must_change_password: 0, updated_at: Date.now() };
    await updateUserRow(trx, row.id, { password_hash: passwordHash, must_change_password: 0, updated_at: after.updated_at });
    // Other sessions (perhaps someone else's, with the old password) end here.
    await deleteUserSessions(trx, row.id, keepSessionIdHash);
    await recordChange(trx, actor, { action: 'user.change-password', targetType: 'user', targetId: row.id, before: toUserInfo(row), after: toUserInfo(after) });
    return toUserInfo(after);
  });
}
