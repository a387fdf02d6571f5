// Who may send as whom on the submission ports. A user owns their user name when it is
// an address, plus the addresses an administrator assigns ("*@domain" for a whole
// domain, e.g. for an application account). MAIL FROM and every From: address of a
// submitted message must be among them (otherwise 553 5.7.1).
import type { Db } from '../db/database.ts';
import { deleteSenderAddress, insertSenderAddress, listSenderAddresses } from '../db/repos/sender-addresses.ts';
import type { UserRow } from '../db/schema.ts';
import type { Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { accountFor } from './app-password-service.ts';
import { ServiceError } from './service-error.ts';

const ADDRESS = /^[^\s@<>()",;:\\[\]]{1,64}@(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const WILDCARD = /^\*@(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export interface SenderAddresses {
  user: string;
  /** The user name, when it is an address (always owned). */
  own: string | null;
  /** Assigned by an administrator. */
  assigned: string[];
}

export function ownAddressOf(username: string): string | null {
  const u = username.toLowerCase();
  return ADDRESS.test(u) ? u : null;
}

/** Every pattern the user may send as (for the SMTP session: loaded once at AUTH). */
export async function senderPatternsOf(db: Db, user: UserRow): Promise<string[]> {
  const own = ownAddressOf(user.username);
  return [...(own ? [own] : []), ...(await listSenderAddresses(db, user.id)).map((r) => r.address)];
}

/** Whether `address` matches one of the patterns (exact address, or "*@domain"). */
export function mayUseAddress(patterns: readonly string[], address: string): boolean {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf('@');
  if (at <= 0) return false;
  const domain = a.slice(at + 1);
  return patterns.some((p) => p === a || p === `*@${domain}`);
}

export async function getSenderAddresses(db: Db, actor: Actor, user: string): Promise<SenderAddresses> {
  const u = await accountFor(db, actor, user, 'users.read');
  return { user: u.username, own: ownAddressOf(u.username), assigned: (await listSenderAddresses(db, u.id)).map((r) => r.address) };
}

function normalise(address: string): string {
  const a = address.trim().toLowerCase();
  if (!ADDRESS.test(a) && !WILDCARD.test(a)) throw new ServiceError('invalid', `"${address}" is not an address (user@example.com) or a whole domain (*@example.com)`, { address: 'not an address' });
  return a;
}

/** Only an administrator assigns addresses: a user cannot give themselves someone else's. */
export async function addSenderAddress(db: Db, actor: Actor, user: string, address: string): Promise<SenderAddresses> {
  const a = normalise(address);
  await db.transaction().execute(async (trx) => {
    const u = await accountFor(trx, actor, user, 'users.write', false);
    const current = await listSenderAddresses(trx, u.id);
    if (current.some((r) => r.address === a) || ownAddressOf(u.username) === a) throw new ServiceError('conflict', `${u.username} may send as ${a} already`);
    await insertSenderAddress(trx, { user_id: u.id, address: a, created_at: Date.now(), created_by: actor.name });
    await recordChange(trx, actor, { action: 'sender-address.add', targetType: 'user', targetId: u.id, after: { user: u.username, address: a } });
  });
  return getSenderAddresses(db, actor, user);
}

export async function removeSenderAddress(db: Db, actor: Actor, user: string, address: string): Promise<SenderAddresses> {
  const a = address.trim().toLowerCase();
  await db.transaction().execute(async (trx) => {
    const u = await accountFor(trx, actor, user, 'users.write', false);
    if (ownAddressOf(u.username) === a) throw new ServiceError('conflict', `${a} is ${u.username}'s own user name: it cannot be removed`);
    if (!(await deleteSenderAddress(trx, u.id, a))) throw new ServiceError('not_found', `${u.username} has no assigned address ${a}`);
    await recordChange(trx, actor, { action: 'sender-address.remove', targetType: 'user', targetId: u.id, before: { user: u.username, address: a } });
  });
  return getSenderAddresses(db, actor, user);
}
