// Console sessions. The cookie holds a random id; the database holds only its SHA-256,
// with the user, a CSRF token, and the idle and absolute expiry. Any worker process can
// serve any request: nothing about a session lives in memory.
import type { Db } from '../db/database.ts';
import { deleteExpiredSessions, deleteSession, findSession, insertSession, touchSession } from '../db/repos/sessions.ts';
import { findUserById } from '../db/repos/users.ts';
import type { SessionRow, UserRow } from '../db/schema.ts';
import { loadSettings, type Settings } from '../config/settings.ts';
import type { Actor, ActorRole } from './actor.ts';
import { randomSecret, sha256Hex } from './secret-tokens.ts';

export const SESSION_COOKIE = '__Host-hermes_session';
/** last_seen is written at most this often per session. */
const TOUCH_GRANULARITY_MS = 30_000;

export interface ActiveSession {
  idHash: string;
  csrfToken: string;
  user: UserRow;
  actor: Actor;
  expiresAt: number;
}

type SessionSettings = Pick<Settings, 'console.sessionIdleMinutes' | 'console.sessionMaxHours'>;

export function userActor(user: UserRow, address?: string): Actor {
  return {
    kind: 'user',
    id: user.id,
    name: user.username,
    role: user.role as ActorRole,
    domains: user.domains_json === null ? null : (JSON.parse(user.domains_json) as string[]),
    ...(address !== undefined ? { address } : {}),
  };
}

/** Starts a session for a user who just proved who they are; returns the cookie value. */
export async function createSession(db: Db, user: UserRow, client: { address: string; userAgent?: string }, settings?: SessionSettings): Promise<{ cookie: string; csrfToken: string; expiresAt: number }> {
  const s = settings ?? (await loadSettings(db));
  const cookie = randomSecret(32);
  const csrfToken = randomSecret(32);
  const now = Date.now();
  const expiresAt = now + s['console.sessionMaxHours'] * 3_600_000;
  await deleteExpiredSessions(db, now, now - s['console.sessionIdleMinutes'] * 60_000);
  await insertSession(db, {
    id_hash: sha256Hex(cookie),
    user_id: user.id,
    csrf_token: csrfToken,
    created_at: now,
    last_seen_at: now,
    expires_at: expiresAt,
    address: client.address,
    user_agent: client.userAgent?.slice(0, 300) ?? null,
  });
  return { cookie, csrfToken, expiresAt };
}

/** The live session a cookie names, or null (unknown, idle too long, past its end, user disabled). */
export async function resolveSession(db: Db, cookie: string, address: string, settings?: SessionSettings): Promise<ActiveSession | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(cookie)) return null;
  const idHash = sha256Hex(cookie);
  const row: SessionRow | undefined = await findSession(db, idHash);
  if (!row) return null;
  const s = settings ?? (await loadSettings(db));
  const now = Date.now();
  if (Number(row.expires_at) <= now || Number(row.last_seen_at) + s['console.sessionIdleMinutes'] * 60_000 <= now) {
    await deleteSession(db, idHash);
    return null;
  }
  const user = await findUserById(db, row.user_id);
  if (!user || user.disabled === 1) {
    await deleteSession(db, idHash);
    return null;
  }
  if (now - Number(row.last_seen_at) > TOUCH_GRANULARITY_MS) await touchSession(db, idHash, now);
  return { idHash, csrfToken: row.csrf_token, user, actor: userActor(user, address), expiresAt: Number(row.expires_at) };
}

export async function endSession(db: Db, cookie: string): Promise<void> {
  await deleteSession(db, sha256Hex(cookie));
}
