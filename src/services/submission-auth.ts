// SMTP AUTH on the submission ports: the console accounts (argon2id password) and their
// app passwords, behind the same failed-sign-in throttle as the console (per account
// and per client address). A disabled account, one whose password must be changed
// first, and (for its account password) one with two-factor authentication cannot
// submit: SMTP has no second factor, so such users sign in with an app password.
import type { Db } from '../db/database.ts';
import { listAppPasswords, touchAppPassword } from '../db/repos/app-passwords.ts';
import { findUserByName } from '../db/repos/users.ts';
import { assertNotThrottled, recordLoginFailure, recordLoginSuccess } from './login-throttle.ts';
import { sameSecret, sha256Hex } from './secret-tokens.ts';
import { senderPatternsOf } from './sender-address-service.ts';
import { ServiceError } from './service-error.ts';
import { hashPassword, verifyPassword } from './user-service.ts';

export interface SubmissionUser {
  id: string;
  username: string;
  /** What MAIL FROM and From: may say (sender-address-service patterns). */
  senders: string[];
  /** 'password' or the app password's name. */
  via: string;
}

export type SubmissionAuthResult =
  | { ok: true; user: SubmissionUser }
  /** temporary: throttled (454 4.7.0); otherwise wrong credentials (535 5.7.8). */
  | { ok: false; temporary: boolean; message: string; why: string };

let dummyHash: Promise<string> | null = null;

export async function authenticateSubmission(db: Db, username: string, password: string, clientAddress: string): Promise<SubmissionAuthResult> {
  const name = username.trim().toLowerCase();
  try {
    await assertNotThrottled(db, name, clientAddress);
  } catch (err) {
    if (err instanceof ServiceError) return { ok: false, temporary: true, message: err.message, why: err.code };
    throw err;
  }
  // A right password refused for another reason is not a guess: it does not count.
  const denied = async (why: string, message = 'Authentication credentials invalid', guess = true): Promise<SubmissionAuthResult> => {
    if (guess) await recordLoginFailure(db, name, clientAddress);
    return { ok: false, temporary: false, message, why };
  };
  const row = name ? await findUserByName(db, name) : undefined;
  if (!row) {
    // As slow as a real check, so that timing does not tell which user names exist.
    await verifyPassword(await (dummyHash ??= hashPassword('hermes-no-such-user')), password);
    return denied('no such user');
  }
  if (row.disabled === 1) return denied('account disabled');
  const given = sha256Hex(password);
  const app = (await listAppPasswords(db, row.id)).find((p) => sameSecret(p.secret_hash, given));
  let via: string;
  if (app) {
    via = `app password "${app.name}"`;
    await touchAppPassword(db, app.id, Date.now(), clientAddress);
  } else {
    if (!(await verifyPassword(row.password_hash, password))) return denied('wrong password');
    // The password is right: now the refusals may say why.
    if (row.must_change_password === 1) return denied('must change password', 'Authentication refused: sign in to the console and set your own password first', false);
    if (row.totp_enabled === 1) return denied('2fa account password', 'Authentication refused: this account uses two-factor authentication; sign in with an app password', false);
    via = 'password';
  }
  await recordLoginSuccess(db, name);
  return { ok: true, user: { id: row.id, username: row.username, senders: await senderPatternsOf(db, row), via } };
}
