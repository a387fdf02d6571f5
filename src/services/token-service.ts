// API tokens: "hms_<id>_<secret>", shown once at creation, stored as the SHA-256 of the
// secret, compared in constant time. Each is scoped to a role (and domains), may expire
// and may be limited to client networks; its last use is recorded; it can be revoked.
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { findApiToken, insertApiToken, listApiTokens, updateApiToken } from '../db/repos/api-tokens.ts';
import type { ApiTokenRow } from '../db/schema.ts';
import { NetworkSet, parseCidr } from '../smtp/cidr.ts';
import { assertCan, ROLES, type Actor, type Role } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { decodeCursor, pageSize, toPage, type Page } from './page.ts';
import { randomSecret, sameSecret, sha256Hex } from './secret-tokens.ts';
import { ServiceError } from './service-error.ts';
import { normaliseDomains } from './user-service.ts';

export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  domains: string[] | null;
  expiresAt: string | null;
  allowedCidrs: string[] | null;
  createdBy: string;
  createdAt: string;
  lastUsedAt: string | null;
  lastUsedAddress: string | null;
  revokedAt: string | null;
}

export interface NewToken {
  name: string;
  role: Role;
  domains?: string[] | null;
  /** ISO time; absent or null: never expires. */
  expiresAt?: string | null;
  allowedCidrs?: string[] | null;
}

const TOKEN_FORMAT = /^hms_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** Last use is written at most this often per token (a busy script is not a write per call). */
const LAST_USE_GRANULARITY_MS = 60_000;

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

function toInfo(r: ApiTokenRow): TokenInfo {
  return {
    id: r.id,
    name: r.name,
    role: r.role as Role,
    domains: r.domains_json === null ? null : (JSON.parse(r.domains_json) as string[]),
    expiresAt: iso(r.expires_at),
    allowedCidrs: r.allowed_cidrs_json === null ? null : (JSON.parse(r.allowed_cidrs_json) as string[]),
    createdBy: r.created_by,
    createdAt: iso(r.created_at)!,
    lastUsedAt: iso(r.last_used_at),
    lastUsedAddress: r.last_used_address,
    revokedAt: iso(r.revoked_at),
  };
}

export async function createToken(db: Db, actor: Actor, t: NewToken): Promise<{ token: string; info: TokenInfo }> {
  assertCan(actor, 'tokens.write');
  const name = t.name.trim();
  if (!name || name.length > 100) throw new ServiceError('invalid', 'give the token a name (1 to 100 characters) that says what uses it', { name: 'required' });
  if (!ROLES.includes(t.role)) throw new ServiceError('invalid', `role must be one of ${ROLES.join(', ')}`, { role: 'unknown role' });
  const domains = normaliseDomains(t.role, t.domains ?? null);
  let expiresAt: number | null = null;
  if (t.expiresAt) {
    expiresAt = Date.parse(t.expiresAt);
    if (!Number.isFinite(expiresAt)) throw new ServiceError('invalid', 'expiresAt must be an ISO date and time', { expiresAt: 'not a date' });
    if (expiresAt <= Date.now()) throw new ServiceError('invalid', 'expiresAt is in the past', { expiresAt: 'in the past' });
  }
  let cidrs: string[] | null = null;
  if (t.allowedCidrs && t.allowedCidrs.length) {
    try {
      cidrs = t.allowedCidrs.map((c) => parseCidr(c).canonical);
    } catch (err) {
      throw new ServiceError('invalid', (err as Error).message, { allowedCidrs: 'invalid network' });
    }
  }
  const id = randomBytes(8).toString('hex');
  const secret = randomSecret(32);
  const row: ApiTokenRow = {
    id,
    name,
    secret_hash: sha256Hex(secret),
    role: t.role,
    domains_json: domains === null ? null : JSON.stringify(domains),
    expires_at: expiresAt,
    allowed_cidrs_json: cidrs === null ? null : JSON.stringify(cidrs),
    created_by: actor.name,
    created_at: Date.now(),
    last_used_at: null,
    last_used_address: null,
    revoked_at: null,
  };
  await db.transaction().execute(async (trx) => {
    await insertApiToken(trx, row);
    await recordChange(trx, actor, { action: 'token.create', targetType: 'token', targetId: id, after: toInfo(row) });
  });
  return { token: `hms_${id}_${secret}`, info: toInfo(row) };
}

export async function listTokens(db: Db, actor: Actor, q: { cursor?: string; limit?: number; includeRevoked?: boolean } = {}): Promise<Page<TokenInfo>> {
  assertCan(actor, 'tokens.read');
  const limit = pageSize(q.limit);
  const before = decodeCursor(q.cursor, (v): v is { createdAt: number; id: string } => typeof v === 'object' && v !== null && typeof (v as { createdAt?: unknown }).createdAt === 'number' && typeof (v as { id?: unknown }).id === 'string');
  const rows = await listApiTokens(db, { before, includeRevoked: q.includeRevoked }, limit + 1);
  return toPage(rows, limit, toInfo, (r) => ({ createdAt: Number(r.created_at), id: r.id }));
}

export async function revokeToken(db: Db, actor: Actor, id: string): Promise<TokenInfo> {
  assertCan(actor, 'tokens.write');
  return db.transaction().execute(async (trx) => {
    const row = await findApiToken(trx, id);
    if (!row) throw new ServiceError('not_found', `no API token with id ${id}`);
    if (row.revoked_at !== null) throw new ServiceError('conflict', `token ${id} is revoked already`);
    const after = { ...row, revoked_at: Date.now() };
    await updateApiToken(trx, id, { revoked_at: after.revoked_at });
    await recordChange(trx, actor, { action: 'token.revoke', targetType: 'token', targetId: id, before: toInfo(row), after: toInfo(after) });
    return toInfo(after);
  });
}

/**
 * The Actor a presented token stands for, or an 'unauthenticated' error. Every refusal
 * gives the same message, so a caller cannot tell a wrong secret from a revoked token.
 */
export async function authenticateToken(db: Db, presented: string, address: string): Promise<Actor> {
  const refuse = () => new ServiceError('unauthenticated', 'the API token is not valid (wrong, expired, revoked, or not allowed from this address)');
  const m = TOKEN_FORMAT.exec(presented);
  if (!m) throw refuse();
  const row = await findApiToken(db, m[1]!);
  // Hash and compare even for an unknown id, so timing says nothing about which ids exist.
  const matches = sameSecret(sha256Hex(m[2]!), row?.secret_hash ?? '0'.repeat(64));
  if (!row || !matches) throw refuse();
  const now = Date.now();
  if (row.revoked_at !== null || (row.expires_at !== null && Number(row.expires_at) <= now)) throw refuse();
  if (row.allowed_cidrs_json !== null && !new NetworkSet(JSON.parse(row.allowed_cidrs_json) as string[]).contains(address)) throw refuse();
  if (row.last_used_at === null || now - Number(row.last_used_at) > LAST_USE_GRANULARITY_MS || row.last_used_address !== address) {
    await updateApiToken(db, row.id, { last_used_at: now, last_used_address: address });
  }
  return {
    kind: 'token',
    id: row.id,
    name: `token:${row.name}`,
    role: row.role as Role,
    domains: row.domains_json === null ? null : (JSON.parse(row.domains_json) as string[]),
    address,
  };
}
