// The audit log: every change by anyone (console, API, token, CLI) is recorded with who,
// when, from where, what, and the state before and after. Services call recordChange in
// the same transaction as the change itself, so a change is never without its entry.
import type { Db } from '../db/database.ts';
import { insertAuditEntry, listAuditEntries } from '../db/repos/audit-log.ts';
import type { AuditLogRow } from '../db/schema.ts';
import { assertCan, type Actor } from './actor.ts';
import { decodeCursor, pageSize, toPage, type Page } from './page.ts';
import type { AuditEntry } from '../shared/audit.ts';

export type { AuditEntry };

export interface Change {
  /** Stable verb: "domain.add", "quarantine.release", "user.unlock", ... */
  action: string;
  targetType: string;
  targetId: string;
  /** The domain the change concerns, when there is one (scopes domain administrators). */
  domain?: string | null;
  before?: unknown;
  after?: unknown;
}

/** Secrets never reach the log: fields with these names are written as "[redacted]". */
const SECRET_FIELDS = /^(password|passwordHash|secret|totpSecret|token|tokenHash|privateKey|private_key|key_pem|recoveryCodes)$/i;

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELDS.test(k) ? '[redacted]' : redact(v)]));
  }
  return value;
}

function json(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(redact(value));
}

export async function recordChange(db: Db, actor: Actor, change: Change): Promise<void> {
  await insertAuditEntry(db, {
    at: Date.now(),
    actor_kind: actor.kind,
    actor_id: actor.id,
    actor_name: actor.name,
    address: actor.address ?? null,
    action: change.action,
    target_type: change.targetType,
    target_id: change.targetId,
    domain: change.domain?.toLowerCase() ?? null,
    before_json: json(change.before),
    after_json: json(change.after),
  });
}

export interface AuditQuery {
  cursor?: string;
  limit?: number;
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  from?: Date;
  to?: Date;
}

function toEntry(r: AuditLogRow): AuditEntry {
  return {
    id: Number(r.id),
    at: new Date(Number(r.at)).toISOString(),
    actor: { kind: r.actor_kind, id: r.actor_id, name: r.actor_name },
    address: r.address,
    action: r.action,
    target: { type: r.target_type, id: r.target_id },
    domain: r.domain,
    before: r.before_json === null ? null : JSON.parse(r.before_json),
    after: r.after_json === null ? null : JSON.parse(r.after_json),
  };
}

export async function listAudit(db: Db, actor: Actor, q: AuditQuery = {}): Promise<Page<AuditEntry>> {
  assertCan(actor, 'audit.read');
  const limit = pageSize(q.limit);
  const beforeId = decodeCursor(q.cursor, (v): v is number => Number.isInteger(v));
  const rows = await listAuditEntries(
    db,
    {
      beforeId,
      actor: q.actor,
      action: q.action,
      targetType: q.targetType,
      targetId: q.targetId,
      fromMs: q.from?.getTime(),
      toMs: q.to?.getTime(),
      domains: actor.domains ?? undefined,
    },
    limit + 1,
  );
  return toPage(rows, limit, toEntry, (r) => Number(r.id));
}

/** Every matching entry (newest first) as CSV, for export. */
export async function exportAuditCsv(db: Db, actor: Actor, q: Omit<AuditQuery, 'cursor' | 'limit'> = {}): Promise<string> {
  const lines = ['id,at,actor_kind,actor,address,action,target_type,target_id,domain,before,after'];
  let cursor: string | undefined;
  do {
    const page = await listAudit(db, actor, { ...q, cursor, limit: 500 });
    for (const e of page.items) {
      lines.push([e.id, e.at, e.actor.kind, e.actor.name, e.address ?? '', e.action, e.target.type, e.target.id, e.domain ?? '', JSON.stringify(e.before), JSON.stringify(e.after)].map(csvField).join(','));
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return `${lines.join('\r\n')}\r\n`;
}

function csvField(v: unknown): string {
  const s = String(v);
  // A leading = + - @ would run as a formula in a spreadsheet: quote it with a '.
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}
