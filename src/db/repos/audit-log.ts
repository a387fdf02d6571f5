// The audit log table: append-only rows, read newest first by id.
import type { Db } from '../database.ts';
import type { AuditLogRow, AuditLogTable } from '../schema.ts';
import type { Insertable } from 'kysely';

export type NewAuditEntry = Insertable<AuditLogTable>;

export async function insertAuditEntry(db: Db, entry: NewAuditEntry): Promise<void> {
  await db.insertInto('audit_log').values(entry).execute();
}

export interface AuditFilter {
  /** Only ids below this (the cursor of the previous page). */
  beforeId?: number;
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  fromMs?: number;
  toMs?: number;
  /** Limits to entries about these domains (domain administrators). */
  domains?: readonly string[];
}

export async function listAuditEntries(db: Db, f: AuditFilter, limit: number): Promise<AuditLogRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (f.beforeId !== undefined) q = q.where('id', '<', f.beforeId);
  if (f.actor) q = q.where('actor_name', '=', f.actor);
  if (f.action) q = q.where('action', '=', f.action);
  if (f.targetType) q = q.where('target_type', '=', f.targetType);
  if (f.targetId) q = q.where('target_id', '=', f.targetId);
  if (f.fromMs !== undefined) q = q.where('at', '>=', f.fromMs);
  if (f.toMs !== undefined) q = q.where('at', '<', f.toMs);
  if (f.domains) q = q.where('domain', 'in', f.domains.length ? [...f.domains] : ['']);
  return q.orderBy('id', 'desc').limit(limit).execute();
}
