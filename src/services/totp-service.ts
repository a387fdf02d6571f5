// TOTP two-factor authentication (RFC 6238, 30 s, 6 digits: what authenticator apps
// expect). The secret is sealed by the master key; enrolment is confirmed with a code,
// which turns 2FA on and hands out 10 single-use recovery codes (stored as hashes).
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import type { Db } from '../db/database.ts';
import { claimTotpStep, findUserById, updateUser } from '../db/repos/users.ts';
import type { UserRow } from '../db/schema.ts';
import type { MasterKey } from '../keys/master-key.ts';
import type { Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { sameSecret, sha256Hex } from './secret-tokens.ts';
import { ServiceError } from './service-error.ts';
import { toUserInfo } from './user-service.ts';

const ISSUER = 'Hermes SEG';
const RECOVERY_CODES = 10;

const aad = (userId: string) => `totp:${userId}`;

function totpFor(user: UserRow, secretBase32: string): TOTP {
  return new TOTP({ issuer: ISSUER, label: user.username, algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secretBase32) });
}

function openSecret(key: MasterKey, user: UserRow): string {
  if (!user.totp_secret_sealed) throw new ServiceError('conflict', 'no two-factor enrolment is under way: start with POST /api/v1/me/totp');
  return key.decryptString(user.totp_secret_sealed, aad(user.id));
}

/** The time step of `code` if it is a current TOTP code (one step either side, for clock drift), else null. */
export function totpStepOf(key: MasterKey, user: UserRow, code: string): number | null {
  if (!/^\d{6}$/.test(code.trim())) return null;
  const totp = totpFor(user, openSecret(key, user));
  const now = Date.now();
  const delta = totp.validate({ token: code.trim(), window: 1, timestamp: now });
  return delta === null ? null : totp.counter({ timestamp: now }) + delta;
}

export type TotpCheck = 'ok' | 'wrong' | 'used';

/**
 * Checks a TOTP code and uses it up: a code is good once. A code of a step at or before the
 * last one used is refused ("used"), even while it is still current.
 */
export async function useTotpCode(db: Db, key: MasterKey, user: UserRow, code: string): Promise<TotpCheck> {
  const step = totpStepOf(key, user, code);
  if (step === null) return 'wrong';
  return (await claimTotpStep(db, user.id, step)) ? 'ok' : 'used';
}

/** Recovery codes look like "abcd-efgh-ijkl" (base32, 60 bits). */
function newRecoveryCode(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const b = randomBytes(12);
  const s = [...b].map((x) => alphabet[x % 32]).join('');
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8, 12)}`;
}

const normaliseRecovery = (code: string) => code.trim().toLowerCase().replace(/[^a-z2-7]/g, '');

/** Uses up a recovery code: true if it was one of the user's unused codes. */
export async function consumeRecoveryCode(db: Db, user: UserRow, code: string): Promise<boolean> {
  const hashes = JSON.parse(user.recovery_codes_json ?? '[]') as string[];
  const h = sha256Hex(normaliseRecovery(code));
  const left = hashes.filter((x) => !sameSecret(x, h));
  if (left.length === hashes.length) return false;
  await updateUser(db, user.id, { recovery_codes_json: JSON.stringify(left), updated_at: Date.now() });
  return true;
}

async function mustBeUser(db: Db, actor: Actor): Promise<UserRow> {
  if (actor.kind !== 'user') throw new ServiceError('forbidden', 'two-factor authentication is for signed-in users, not API tokens');
  const user = await findUserById(db, actor.id);
  if (!user) throw new ServiceError('not_found', 'your account no longer exists');
  return user;
}

export interface TotpEnrolment {
  secret: string;
  otpauthUrl: string;
  qrSvg: string;
}

/** Starts (or restarts) enrolment: a new secret, as text, otpauth URL and QR code. */
export async function startTotpEnrolment(db: Db, key: MasterKey, actor: Actor): Promise<TotpEnrolment> {
  const user = await mustBeUser(db, actor);
  if (user.totp_enabled === 1) throw new ServiceError('conflict', 'two-factor authentication is on already; an administrator can reset it (hermes admin reset-2fa) if you lost your device');
  const secret = new Secret({ size: 20 }).base32;
  await db.transaction().execute(async (trx) => {
    await updateUser(trx, user.id, { totp_secret_sealed: key.encryptString(secret, aad(user.id)), updated_at: Date.now() });
    await recordChange(trx, actor, { action: 'user.totp-start', targetType: 'user', targetId: user.id });
  });
  const otpauthUrl = totpFor(user, secret).toString();
  return { secret, otpauthUrl, qrSvg: await QRCode.toString(otpauthUrl, { type: 'svg', margin: 1 }) };
}

/** Confirms enrolment with a code from the app; returns the recovery codes (shown once). */
export async function confirmTotpEnrolment(db: Db, key: MasterKey, actor: Actor, code: string): Promise<{ recoveryCodes: string[] }> {
  const user = await mustBeUser(db, actor);
  if (user.totp_enabled === 1) throw new ServiceError('conflict', 'two-factor authentication is on already');
  const step = totpStepOf(key, user, code);
  if (step === null) throw new ServiceError('invalid', 'that code is not the current one: check the time on your phone and enter the code the app shows now', { code: 'wrong code' });
  const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
  await db.transaction().execute(async (trx) => {
    const after: UserRow = { ...user, totp_enabled: 1, recovery_codes_json: JSON.stringify(codes.map((c) => sha256Hex(normaliseRecovery(c)))), totp_last_step: step, updated_at: Date.now() };
    // The enrolment code counts as used: it cannot sign in afterwards.
    await updateUser(trx, user.id, { totp_enabled: 1, recovery_codes_json: after.recovery_codes_json, totp_last_step: step, updated_at: after.updated_at });
    await recordChange(trx, actor, { action: 'user.totp-enable', targetType: 'user', targetId: user.id, before: toUserInfo(user), after: toUserInfo(after) });
  });
  return { recoveryCodes: codes };
}
