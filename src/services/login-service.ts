// Signing in to the console: user name + password (+ TOTP or recovery code when 2FA is
// on), throttled per account and per client address. Unknown user, disabled account and
// wrong password give the same answer and cost the same argon2 verification, so the
// answer does not tell which user names exist.
import type { Db } from '../db/database.ts';
import { findUserByName, updateUser } from '../db/repos/users.ts';
import type { UserRow } from '../db/schema.ts';
import type { Settings } from '../config/settings.ts';
import type { MasterKey } from '../keys/master-key.ts';
import { assertNotThrottled, recordLoginFailure, recordLoginSuccess } from './login-throttle.ts';
import { createSession } from './session-service.ts';
import { ServiceError } from './service-error.ts';
import { consumeRecoveryCode, useTotpCode } from './totp-service.ts';
import { hashPassword, verifyPassword } from './user-service.ts';

let dummyHash: Promise<string> | null = null;
/** A real argon2id hash to verify against when the user does not exist (same cost). */
const dummy = () => (dummyHash ??= hashPassword('not-a-password-of-anyone-7f3a'));

export interface LoginRequest {
  username: string;
  password: string;
  /** A 6-digit TOTP code or a recovery code. */
  totp?: string;
}

export interface LoginResult {
  user: UserRow;
  cookie: string;
  csrfToken: string;
  expiresAt: number;
}

const WRONG = 'wrong user name or password';

export async function login(db: Db, key: () => MasterKey, settings: Settings, req: LoginRequest, client: { address: string; userAgent?: string }): Promise<LoginResult> {
  const username = req.username.trim().toLowerCase();
  await assertNotThrottled(db, username, client.address);
  const user = await findUserByName(db, username);
  const ok = await verifyPassword(user?.password_hash ?? (await dummy()), req.password);
  if (!user || !ok || user.disabled === 1) {
    await recordLoginFailure(db, username, client.address);
    throw new ServiceError('unauthenticated', WRONG);
  }
  if (user.totp_enabled === 1) {
    const code = req.totp?.trim();
    if (!code) throw new ServiceError('unauthenticated', 'enter the code from your authenticator app (or a recovery code)', { totp: 'required' });
    const check = /^\d{6}$/.test(code) ? await useTotpCode(db, key(), user, code) : (await consumeRecoveryCode(db, user, code)) ? 'ok' : 'wrong';
    if (check !== 'ok') {
      await recordLoginFailure(db, username, client.address);
      throw new ServiceError('unauthenticated', check === 'used' ? 'that code was used already: wait for the next code in your app' : 'wrong two-factor code', { totp: 'wrong code' });
    }
  }
  await recordLoginSuccess(db, username);
  const now = Date.now();
  await updateUser(db, user.id, { last_login_at: now, last_login_address: client.address });
  const s = await createSession(db, user, client, settings);
  return { user: { ...user, last_login_at: now, last_login_address: client.address }, ...s };
}
