// Failed sign-ins are counted per account and per client address, in the database (so
// every worker and every restart sees the same counts). 5 failures on an account within
// 15 minutes lock it for 15 minutes, doubling with each lock in a row (at most 24 h);
// 20 failures from one address lock that address likewise. `hermes admin unlock` or the
// users API lift a lock.
import type { Db } from '../db/database.ts';
import { clearThrottle, findThrottle, saveThrottle } from '../db/repos/login-throttle.ts';
import type { LoginThrottleRow } from '../db/schema.ts';
import { assertCan, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { ServiceError } from './service-error.ts';

export const ACCOUNT_LIMIT = { failures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };
export const ADDRESS_LIMIT = { failures: 20, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };
const MAX_LOCK_MS = 24 * 3_600_000;

export const accountKey = (username: string) => `account:${username.trim().toLowerCase()}`;
export const addressKey = (address: string) => `address:${address}`;

function retryMessage(what: string, until: number): { message: string; seconds: number } {
  const seconds = Math.max(1, Math.ceil((until - Date.now()) / 1000));
  const at = new Date(until).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return {
    seconds,
    message: `${what} after too many failed sign-ins: try again after ${at} (in ${Math.ceil(seconds / 60)} min), or ask an administrator to unlock it (hermes admin unlock <user>)`,
  };
}

/** Throws 423 (account) or 429 (address) while either is locked. */
export async function assertNotThrottled(db: Db, username: string, address: string): Promise<void> {
  const now = Date.now();
  const acct = await findThrottle(db, accountKey(username));
  if (acct?.locked_until && Number(acct.locked_until) > now) {
    const r = retryMessage('this account is locked', Number(acct.locked_until));
    throw new ServiceError('locked', r.message, { retryAfterSeconds: String(r.seconds) });
  }
  const addr = await findThrottle(db, addressKey(address));
  if (addr?.locked_until && Number(addr.locked_until) > now) {
    const r = retryMessage('sign-ins from your address are paused', Number(addr.locked_until));
    throw new ServiceError('rate_limited', r.message, { retryAfterSeconds: String(r.seconds) });
  }
}

async function countFailure(db: Db, key: string, limit: typeof ACCOUNT_LIMIT, now: number): Promise<void> {
  const row = await findThrottle(db, key);
  const fresh = !row || now - Number(row.first_failure_at) > limit.windowMs;
  const next: LoginThrottleRow = {
    key,
    failures: fresh ? 1 : row.failures + 1,
    first_failure_at: fresh ? now : Number(row.first_failure_at),
    locked_until: row?.locked_until ?? null,
    lock_count: row?.lock_count ?? 0,
  };
  if (next.failures >= limit.failures) {
    next.locked_until = now + Math.min(MAX_LOCK_MS, limit.lockMs * 2 ** next.lock_count);
    next.lock_count += 1;
    next.failures = 0;
    next.first_failure_at = now;
  }
  await saveThrottle(db, next);
}

export async function recordLoginFailure(db: Db, username: string, address: string): Promise<void> {
  const now = Date.now();
  await countFailure(db, accountKey(username), ACCOUNT_LIMIT, now);
  await countFailure(db, addressKey(address), ADDRESS_LIMIT, now);
}

export async function recordLoginSuccess(db: Db, username: string): Promise<void> {
  await clearThrottle(db, accountKey(username));
}

/** Lifts the lock (and the count) of an account, and of a client address if given. */
export async function unlock(db: Db, actor: Actor, username: string, address?: string): Promise<{ account: boolean; address: boolean }> {
  assertCan(actor, 'users.write');
  return db.transaction().execute(async (trx) => {
    const acct = await findThrottle(trx, accountKey(username));
    await clearThrottle(trx, accountKey(username));
    const addr = address ? await findThrottle(trx, addressKey(address)) : undefined;
    if (address) await clearThrottle(trx, addressKey(address));
    await recordChange(trx, actor, { action: 'user.unlock', targetType: 'user', targetId: username.toLowerCase(), before: { account: acct ?? null, address: addr ?? null }, after: { account: null, address: null } });
    return { account: !!acct?.locked_until && Number(acct.locked_until) > Date.now(), address: !!addr?.locked_until && Number(addr.locked_until) > Date.now() };
  });
}
